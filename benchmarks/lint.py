"""`nnsym lint`: time for a 40-step document, and the share of steps it reads.

Goals (issue 12): a 40-step document in at most 2 s; at least 95 % of the steps written in the notation
of docs/notation.md read (decided right or wrong, not "not read"). Baseline for the time: the 2 s goal
itself (no other tool reads a backprop derivation). One process, NumPy with one thread (as
benchmarks/gradients.py sets it). The machine is shared (2 cores, several users): timings are noisy, so
the median of --repeats runs is reported with its spread (min-max).

    python benchmarks/lint.py [--repeats 5]
"""

import argparse
import os
import statistics
import time

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

from nnsym.present.lint import lint_text  # noqa: E402 - after the thread settings

# A two-layer network in δ-form, one example and a batch, 40 steps in all (definitions included).
NETWORK = r"""
%% nnsym: --shape W^{(1)}=hxd --shape b^{(1)}=h --shape x=d --shape W^{(2)}=kxh --shape b^{(2)}=k --shape y=k
\begin{align*}
z^{(1)} &= W^{(1)} x + b^{(1)}, & a^{(1)} &= \tanh(z^{(1)}), \\
z^{(2)} &= W^{(2)} a^{(1)} + b^{(2)}, & a^{(2)} &= \sigma(z^{(2)}), \\
L &= \frac12 \|a^{(2)} - y\|^2 = \frac12 (a^{(2)} - y)^\top (a^{(2)} - y) \\
\delta^{(2)} = \frac{\partial L}{\partial z^{(2)}} &= (a^{(2)} - y) \odot \sigma'(z^{(2)}) \\
 &= (a^{(2)} - y) \odot a^{(2)} \odot (1 - a^{(2)}) \\
\frac{\partial L}{\partial W^{(2)}} &= \delta^{(2)} a^{(1)\top}, & \frac{\partial L}{\partial b^{(2)}} &= \delta^{(2)} \\
\frac{\partial L}{\partial a^{(1)}} &= W^{(2)\top} \delta^{(2)} \\
\delta^{(1)} &= (W^{(2)\top} \delta^{(2)}) \odot \tanh'(z^{(1)}) \\
 &= (W^{(2)\top} \delta^{(2)}) \odot (1 - a^{(1)} \odot a^{(1)}) \\
\frac{\partial L}{\partial W^{(1)}} &= \delta^{(1)} x^\top, & \nabla_{b^{(1)}} L &= \delta^{(1)}
\end{align*}
%% nnsym: --shape X=dxB --shape Y=kxB --shape \mathbf{1}=B
\begin{align*}
Z^{(1)} &= W^{(1)} X + b^{(1)} \mathbf{1}^\top, & A^{(1)} &= \operatorname{ReLU}(Z^{(1)}), \\
Z^{(2)} &= W^{(2)} A^{(1)} + b^{(2)} \mathbf{1}^\top, & J &= \frac{1}{2B} \|Z^{(2)} - Y\|_F^2 \\
\frac{\partial J}{\partial Z^{(2)}} &= \frac1B (Z^{(2)} - Y), & \frac{\partial J}{\partial W^{(2)}} &= \frac1B (Z^{(2)} - Y) A^{(1)\top} \\
\frac{\partial J}{\partial b^{(2)}} &= \frac1B (Z^{(2)} - Y) \mathbf{1}, &
\frac{\partial J}{\partial A^{(1)}} &= \frac1B W^{(2)\top} (Z^{(2)} - Y) \\
\frac{\partial J}{\partial Z^{(1)}} &= \frac1B (W^{(2)\top} (Z^{(2)} - Y)) \odot H(Z^{(1)}) \\
\frac{\partial J}{\partial W^{(1)}} &= \frac1B ((W^{(2)\top} (Z^{(2)} - Y)) \odot H(Z^{(1)})) X^\top \\
\frac{\partial J}{\partial b^{(1)}} &= \frac1B ((W^{(2)\top} (Z^{(2)} - Y)) \odot H(Z^{(1)})) \mathbf{1} \\
 &= \frac1B \left(H(Z^{(1)}) \odot (W^{(2)\top} Z^{(2)} - W^{(2)\top} Y)\right) \mathbf{1}
\end{align*}
%% nnsym: --shape A=nxn --shape S=nxn --assume S=spd --shape v=n --shape M=nxm --shape z=k --shape t=k
\begin{align*}
\nabla_v (v^\top A v) &= (A + A^\top) v, & \nabla_v (v^\top S v) &= 2 S v, \\
\nabla_A \operatorname{tr}(A M M^\top) &= M M^\top, & \nabla_S \log\det(S) &= S^{-1}, \\
\nabla_M \|M\|_F^2 &= 2 M, & \nabla_z \operatorname{logsumexp}(z) &= \operatorname{softmax}(z), \\
f &= \frac12 \sum_i \left(\sum_j A_{ij} v_j - v_i\right)^2, & \frac{\partial f}{\partial A_{ij}} &= \left([A v]_i - v_i\right) v_j \\
\nabla_A f &= (A v - v) v^\top = A v v^\top - v v^\top, & \nabla_v \operatorname{tr}(A) &= 0, \\
\nabla_M \operatorname{tr}(M^\top A M) &= (A + A^\top) M = A M + A^\top M
\end{align*}
""".replace("%%", "%")

# Steps written in docs/notation.md's notation, one spelling each (transposes, products, functions,
# norms, reductions, index notation): the share read is measured on these.
SPELLINGS = r"""
%% nnsym: --shape W=3x2 --shape x=2 --shape y=3 --shape A=3x3 --shape X=3x3 --shape z=3 --shape v=3 --assume X=spd
\begin{align*}
\mathbf{x}^T W^{\mathsf{T}} y &= y^\top W x \\
W^{\intercal} y &= (y^\top W)^{T} \\
\boldsymbol{x}^\top \vec{x} &= \|x\|^2 \\
W x \circ W x &= (W x) \odot (W x) \\
(W x) \oslash (W x) &= \mathbf{1}_3 \\
\frac{1}{2} \|x\|_2^2 &= \frac12 x^\top x \\
\|W\|_F^2 &= \operatorname{tr}(W^\top W) \\
\mathrm{tr}(A) &= \operatorname{tr}(A^\top) \\
\det(X) &= |X| \\
\log\det(X) &= \log|X| \\
X^{-1} X &= I \\
(X^{-1})^\top &= X^{-T} \\
A^2 &= A A \\
\sigma(t) &= \frac{1}{1 + e^{-t}} \\
\tanh(z) &= 2 \sigma(2 z) - 1 \\
\exp(\ln(z \odot z + 1)) &= z \odot z + 1 \\
\sqrt{e^{2 z}} &= e^{z} \\
\operatorname{ReLU}(z) &= \max(0, z) \\
\mathrm{ReLU}(z) &= z \odot H(z) \\
\mathbb{1}[z > 0] &= H(z) \\
\operatorname{softplus}(z) &= \log(1 + \exp(z)) \\
\sigma'(z) &= \sigma(z) \odot (1 - \sigma(z)) \\
\tanh'(z) &= 1 - \tanh(z) \odot \tanh(z) \\
\operatorname{ReLU}'(z) &= H(z) \\
\operatorname{softmax}(z) &= \exp(z - \mathbf{1} \operatorname{logsumexp}(z)) \\
\operatorname{diag}(v) \mathbf{1} &= v \\
\mathbf{1}^\top v &= \sum_i v_i \\
\sum_{i=1}^{3} \sum_{j} A_{ij} &= \mathbf{1}^\top A \mathbf{1} \\
[A v]_i &= \sum_k A_{ik} v_k \\
(A v)_i &= \sum_{k} A_{i,k} v_k \\
\sum_k A_{ik} \delta_{kj} &= A_{ij}
\end{align*}
\[ f = \frac12 \|W x - y\|^2 \]
\begin{align*}
\nabla_W f &= (W x - y) x^\top \\
\frac{\partial f}{\partial W} &= W x x^\top - y x^\top \\
\frac{\partial}{\partial x} f &= W^\top (W x - y) \\
\frac{d}{dx} f &= W^\top W x - W^\top y \\
\frac{\partial f}{\partial W_{ij}} &= \left(\sum_k W_{ik} x_k - y_i\right) x_j \\
\nabla^2_x f &= W^\top W
\end{align*}
""".replace("%%", "%")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    report = lint_text(NETWORK, "tex")
    assert report.wrong == 0, "\n".join(report.lines())
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        lint_text(NETWORK, "tex")
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"40-step document: {len(report.steps)} steps ({report.right} right, {report.not_read} not read); "
          f"median {median:.2f} s over {args.repeats} runs (spread {min(times):.2f}-{max(times):.2f} s); goal 2 s")
    spellings = lint_text(SPELLINGS, "tex")
    unread = [s for s in spellings.steps if s.ok is None]
    for step in unread:
        print(f"  not read: {step.lhs} = {step.rhs} — {step.not_read}")
    for step in (s for s in spellings.steps if s.ok is False):
        print(f"  WRONG (a right step flagged): {step}")
    share = 1 - len(unread) / len(spellings.steps)
    print(f"notation spellings: {len(spellings.steps)} steps, {len(unread)} not read, "
          f"{spellings.wrong} wrong: read {share:.0%} (goal 95 %)")
    print(f"RESULT lint40.seconds={median:.3f} lint40/goal={median / 2:.3f} read.share={share:.3f}")


if __name__ == "__main__":
    main()
