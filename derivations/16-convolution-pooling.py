"""Convolution and pooling: cross-correlation in the im2col form, its backward pass (dK a correlation
of the input with the upstream gradient, dX the full correlation with the kernel rotated by 180
degrees), max and average pooling, and the receptive field of stacked convolutions."""

import numpy as np

import nnsym as ns
from nnsym.present.notes import Display, Formula, Note, Plot, Text, array_latex, script_main, steps
from nnsym.verify.formulas import relative_error


def _correlate(X, K):
    """The valid cross-correlation of a 2-D array X with a 2-D kernel K, by loops (no im2col)."""
    kh, kw = K.shape
    out = np.empty((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(X[i:i + kh, j:j + kw] * K)
    return out


def _full_correlate(G, K):
    """The full correlation: G padded by k - 1 zeros on every side, then correlated with K."""
    kh, kw = K.shape
    return _correlate(np.pad(G, ((kh - 1, kh - 1), (kw - 1, kw - 1))), K)


def _pool_backward_by_hand(X, G, k):
    """Max pooling's backward pass by loops: each window's upstream value to its (first) arg-max."""
    dX = np.zeros_like(X)
    for i in range(G.shape[0]):
        for j in range(G.shape[1]):
            window = X[i * k:(i + 1) * k, j * k:(j + 1) * k]
            a, b = np.unravel_index(np.argmax(window), window.shape)
            dX[i * k + a, j * k + b] = G[i, j]
    return dX


def note() -> Note:
    """16: convolution and pooling."""
    H = W = 5
    X, K = ns.matrix("X", 1, H * W), ns.matrix("K", 1, 9)
    Y = ns.conv2d(X, K, image=(H, W))
    G = ns.matrix("G", 1, Y.cols)
    loss = ns.sum_entries(ns.hadamard(G, Y))  # dL/dY = G: the layer's backward pass for any upstream G
    found = ns.gradients(loss, [K, X], oracle=False)

    rng = np.random.default_rng(16)
    X0, K0, G0 = rng.standard_normal((H, W)), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    dX0 = found[X].to_numpy()(K=K0.reshape(1, 9), G=G0.reshape(1, 9)).reshape(H, W)
    dK0 = found[K].to_numpy()(X=X0.reshape(1, H * W), G=G0.reshape(1, 9)).reshape(3, 3)
    flipped = np.rot90(K0, 2)
    unflipped_error = relative_error(_full_correlate(G0, K0), dX0)

    # The same layer typed as on the board (issue 15e): one channel, no batch, X \star K.
    Xc, Kc = ns.matrix("X", H, W), ns.matrix("K", 3, 3)
    Yc = ns.correlate(Xc, Kc)
    Gc = ns.matrix("G", *Yc.shape)
    board_loss = ns.sum_entries(ns.hadamard(Gc, Yc))
    board = ns.gradients(board_loss, [Kc, Xc], oracle=False)
    unflipped = ns.check(board_loss, ns.correlate(Gc, Kc, "full"), wrt=Xc)
    dXc0 = board[Xc].to_numpy()(K=K0, G=G0)

    # Pooling: 2x2 windows over a 4x4 image.
    Xp = ns.matrix("X", 1, 16)
    Gp = ns.matrix("G", 1, 4)
    max_loss = ns.sum_entries(ns.hadamard(Gp, ns.max_pool2d(Xp, 2, image=(4, 4))))
    avg_loss = ns.sum_entries(ns.hadamard(Gp, ns.avg_pool2d(Xp, 2, image=(4, 4))))
    max_found = ns.gradients(max_loss, [Xp], oracle=False)
    avg_found = ns.gradients(avg_loss, [Xp], oracle=False)
    Xp0 = rng.permutation(16).reshape(4, 4).astype(float)  # distinct values: one maximum per window
    Gp0 = np.array([[1.0, 2.0], [3.0, 4.0]])
    dXp0 = max_found[Xp].to_numpy()(X=Xp0.reshape(1, 16), G=Gp0.reshape(1, 4)).reshape(4, 4)
    dXa0 = avg_found[Xp].to_numpy()(G=Gp0.reshape(1, 4)).reshape(4, 4)

    # The receptive field of two stacked 3x3 convolutions: d(one output of layer 2)/dX, from the
    # exported gradient, with all-ones kernels so that each entry counts the paths from that pixel.
    Xr, K1, K2 = ns.matrix("X", 1, 81), ns.matrix("K_1", 1, 9), ns.matrix("K_2", 1, 9)
    Y2 = ns.conv2d(ns.conv2d(Xr, K1, image=(9, 9)), K2, image=(7, 7))
    Gr = ns.matrix("G", 1, Y2.cols)
    field_gradient = ns.gradients(ns.sum_entries(ns.hadamard(Gr, Y2)), [Xr], oracle=False)[Xr].to_numpy()
    one_hot = np.zeros((5, 5))
    one_hot[2, 2] = 1.0
    field = field_gradient(K_1=np.ones((1, 9)), K_2=np.ones((1, 9)), G=one_hot.reshape(1, 25)).reshape(9, 9)
    one_hot_1 = np.zeros((7, 7))
    one_hot_1[3, 3] = 1.0
    field_1 = _full_correlate(one_hot_1, np.ones((3, 3)))  # one layer: its 3x3 window

    def draw(axes):
        image = axes.imshow(field, cmap="Blues")
        for i in range(9):
            for j in range(9):
                if field[i, j]:
                    axes.text(j, i, f"{field[i, j]:.0f}", ha="center", va="center", fontsize=8)
        rows, cols = np.nonzero(field_1)
        axes.add_patch(__import__("matplotlib").patches.Rectangle(
            (cols.min() - 0.5, rows.min() - 0.5), 3, 3, fill=False, edgecolor="red", linewidth=2,
            label="one 3x3 layer"))
        axes.set_title("input pixels seen by the centre output of two 3x3 layers")
        axes.set_xticks(range(9))
        axes.set_yticks(range(9))
        axes.legend(loc="upper right", fontsize=8)
        axes.figure.colorbar(image, ax=axes, label="number of paths (all-ones kernels)")

    return Note(16, "convolution-pooling", "Convolution and pooling", (
        Text("A convolutional layer slides a small kernel over the image. Frameworks compute the "
             "**cross-correlation** (no flip): for a $k \\times k$ kernel, stride 1 and no padding, "
             "$Y_{ij} = \\sum_{a=1}^{k} \\sum_{b=1}^{k} K_{ab} X_{i+a-1,\\, j+b-1}$, an output of "
             "$(H - k + 1) \\times (W - k + 1)$. nnsym writes this as one matrix product, the **im2col** form: "
             "$\\operatorname{im2col}(X)$ has one column per output position holding the $k \\times k$ patch "
             "under the kernel there, and the kernel bank is a matrix $K$ whose row $o$ is the flattened kernel "
             "of output channel $o$ ($C_{\\mathrm{out}} \\times C_{\\mathrm{in}} k^2$). Channels are rows; the "
             "columns run over the examples, then the image's rows and columns. The subscript of "
             "$\\operatorname{im2col}$ gives the kernel and the image size. One channel, a $3 \\times 3$ "
             "kernel over a $5 \\times 5$ image:"),
        Formula(Y, "Y"),
        Text("Take a loss $L$ with $\\partial L / \\partial Y = G$ (any upstream gradient). $\\operatorname{im2col}$ "
             "is linear; its adjoint $\\operatorname{col2im}$ scatters a patch matrix back into an image, adding "
             "where patches overlap. The rules of the matrix product then give the backward pass, step by step:"),
        steps(loss, [K, X], "L"),
        Formula(found[K].expression, r"\frac{\partial L}{\partial K}", derivative_of=(loss, K)),
        Formula(found[X].expression, r"\frac{\partial L}{\partial X}", derivative_of=(loss, X)),
        Text("Both are checked by central finite differences. Read in index form, the first is the valid "
             "correlation of the input with the upstream gradient, "
             "$\\partial L / \\partial K_{ab} = \\sum_{i,j} G_{ij} X_{i+a-1,\\, j+b-1}$: each kernel entry "
             "collects the inputs it multiplied. The second is the **full correlation** of $G$ with the kernel "
             "rotated by 180°: pad $G$ with $k - 1$ zeros on every side and correlate it with "
             "$\\operatorname{rot180}(K)$. A worked example with random numbers: the kernel and its rotation,"),
        Display(rf"K = {array_latex(K0, 3)}, \quad \operatorname{{rot180}}(K) = {array_latex(flipped, 3)}",
                lambda: ("rot180 is K read backwards in both directions",
                         relative_error(flipped, K0[::-1, ::-1])),
                summary=r"\operatorname{rot180}(K)"),
        Text("and the input gradient from the exported NumPy code of $\\operatorname{col2im}(K^\\top G)$, "
             "checked against the full correlation with the rotated kernel, written with loops:"),
        Display(rf"\frac{{\partial L}}{{\partial X}} = {array_latex(dX0, 3)}",
                lambda: ("against the full correlation of G with rot180(K), by loops",
                         relative_error(dX0, _full_correlate(G0, flipped))),
                summary=r"\frac{\partial L}{\partial X} \text{ (worked, } 5 \times 5 \text{)}"),
        Text(f"**The classic mistake** leaves the kernel unrotated; here that is off by a relative error of "
             f"{unflipped_error:.2f}, so the rotation is not a convention. The kernel gradient, against the "
             f"valid correlation of $X$ with $G$ by loops:"),
        Display(rf"\frac{{\partial L}}{{\partial K}} = {array_latex(dK0, 3)}",
                lambda: ("against the valid correlation of X with G, by loops",
                         relative_error(dK0, _correlate(X0, G0))),
                summary=r"\frac{\partial L}{\partial K} \text{ (worked, } 3 \times 3 \text{)}"),
        Text("**The same layer as typed on the board.** With one channel and no batch, lecturers write the "
             "correlation as an operator, $Y = X \\star K$, and nnsym reads and prints it that way "
             "($X \\star_{p=1} K$ for zero padding $p$, $X \\star_{\\mathrm{full}} K$ for padding $k-1$, "
             "$\\operatorname{rot180}(K)$ for the kernel rotated by 180°):"),
        Formula(Yc, "Y"),
        Text("Its backward pass in the same notation, for an upstream gradient $G$, rule by rule:"),
        steps(board_loss, [Kc, Xc], "L"),
        Formula(board[Kc].expression, r"\frac{\partial L}{\partial K}", derivative_of=(board_loss, Kc)),
        Formula(board[Xc].expression, r"\frac{\partial L}{\partial X}", derivative_of=(board_loss, Xc)),
        Text("**Why the flip.** $Y_{ij} = \\sum_{a,b} X_{i+a,\\, j+b} K_{ab}$, so $X_{uv}$ meets $K_{ab}$ in the "
             "output $Y_{u-a,\\, v-b}$: "
             "$\\partial L / \\partial X_{uv} = \\sum_{a,b} G_{u-a,\\, v-b} K_{ab}$. The index of $G$ runs "
             "*backwards* as $a$ runs forwards: with $a' = k-1-a$ it is $\\sum_{a',b'} G_{u+a'-(k-1),\\, "
             "v+b'-(k-1)} \\operatorname{rot180}(K)_{a'b'}$: $G$, padded by $k-1$ zeros on every side (the "
             "full correlation), correlated with the kernel rotated by 180° (with padding $p$ in the forward "
             "pass, $G$ is padded by $k-1-p$). The kernel gradient needs no flip: $\\partial L / \\partial K_{ab} = \\sum_{i,j} "
             "X_{i+a,\\, j+b} G_{ij}$ is the input correlated with $G$. The exported code agrees with the "
             "im2col form above on the worked numbers:"),
        Display(rf"\frac{{\partial L}}{{\partial X}} = {array_latex(dXc0, 3)}",
                lambda: ("X star form against the im2col form col2im(K^T G)", relative_error(dXc0, dX0)),
                summary=r"\frac{\partial L}{\partial X} \text{ (}\star\text{ form, worked)}"),
        Text(f"Typed unflipped, $G \\star_{{\\mathrm{{full}}}} K$, the claim is "
             f"{'wrong' if not unflipped.ok else 'right'} by `nnsym check`, with the diagnosis "
             f"*{(unflipped.diagnosis or 'none').split(':')[0]}*."),
        Text("**Pooling** takes non-overlapping $k \\times k$ windows. Max pooling keeps each window's "
             "maximum, so its gradient passes the upstream value to the position of that maximum and zero "
             "elsewhere: $\\operatorname{maxmask}(X)$ is 1 at each window's (first) maximum, and "
             "$\\operatorname{upsample}$ copies each entry of $G$ over its window. Average pooling "
             "spreads the upstream value evenly over the $k^2$ entries. For $2 \\times 2$ windows over a "
             "$4 \\times 4$ image:"),
        Formula(max_found[Xp].expression, r"\frac{\partial L}{\partial X}", derivative_of=(max_loss, Xp)),
        Formula(avg_found[Xp].expression, r"\frac{\partial L}{\partial X}", derivative_of=(avg_loss, Xp)),
        Text("A worked example (distinct values, so every window has one maximum; the finite differences "
             "above are taken at such points, away from the ties where the maximum is not differentiable):"),
        Display(rf"X = {array_latex(Xp0, 3)}, \quad G = {array_latex(Gp0, 3)}, \quad "
                rf"\frac{{\partial L}}{{\partial X}} = {array_latex(dXp0, 3)}",
                lambda: ("max pooling against the arg-max of each window, by loops",
                         relative_error(dXp0, _pool_backward_by_hand(Xp0, Gp0, 2))),
                summary=r"\frac{\partial L}{\partial X} \text{ (max pooling, worked)}"),
        Display(rf"\text{{average pooling: }} \frac{{\partial L}}{{\partial X}} = {array_latex(dXa0, 3)}",
                lambda: ("average pooling against G / 4 repeated over each window",
                         relative_error(dXa0, np.kron(Gp0, np.ones((2, 2))) / 4)),
                summary=r"\frac{\partial L}{\partial X} \text{ (average pooling, worked)}"),
        Text("**The receptive field.** One output of a $3 \\times 3$ layer sees a $3 \\times 3$ patch of its "
             "input; one output of two stacked $3 \\times 3$ layers sees $5 \\times 5$. The figure is the "
             "gradient of the centre output of two stacked layers with respect to the input image, from the "
             "exported code, with all-ones kernels: each entry counts the paths from that pixel to the output, "
             "so the centre of the field weighs most."),
        Plot("receptive-field", "receptive field of the centre output of two stacked 3x3 convolutions", draw),
    ))


if __name__ == "__main__":
    raise SystemExit(script_main(note))
