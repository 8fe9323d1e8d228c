"""Short explanations written for this app, shown next to the charts they talk about.

Each topic is a title and a list of blocks: ``("md", markdown)``, whose symbols are inline
LaTeX between ``$...$`` (Streamlit renders it with KaTeX), or ``("latex", equation)``. The
tone is a lecture at the board: a few sentences, one equation, and a pointer to what is on the
screen. Pure data; the app renders it (``rnnviz.app.classroom.explanation``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    title: str
    blocks: tuple[tuple[str, str], ...]


TOPICS: dict[str, Topic] = {
    "recurrence": Topic("Recurrence: the hidden state is the memory", (
        ("md", "A recurrent network applies **the same cell at every step**. Besides the new "
               "input $x_t$ it reads its own previous state $h_{t-1}$, so everything it has seen "
               "can, in principle, influence what it does now:"),
        ("latex", r"h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad "
                  r"\hat y_t = W_{out} h_t + b_{out}"),
        ("md", "A single value of a wave cannot tell you whether the wave is rising or "
               "falling, or how fast. Two or three values can. The network has to keep that "
               "evidence in $h_t$ — a vector of a few dozen numbers — and update it at every "
               "step. Wipe $h_{t-1}$ and the same weights are left with one number to go on."),
    )),
    "bptt": Topic("Backpropagation through time", (
        ("md", "To train, unroll the loop: T copies of the same cell, one per step, sharing "
               "their weights. The loss depends on $W_{hh}$ through every copy, so its gradient is "
               "a sum over steps, and the signal for step t has to travel back through every "
               "later step:"),
        ("latex", r"\frac{\partial L}{\partial h_t} = \sum_{k \ge t} "
                  r"\frac{\partial L_k}{\partial h_k}"
                  r"\prod_{j=t+1}^{k} \frac{\partial h_j}{\partial h_{j-1}}, \qquad "
                  r"\frac{\partial h_j}{\partial h_{j-1}} = "
                  r"\operatorname{diag}\!\left(\varphi'(a_j)\right) W_{hh}"),
        ("md", "Here $a_j$ is the pre-activation and φ′ the slope of the activation: "
               "$1 - h_j^2$ for tanh, 0 or 1 for relu. That product of Jacobians is the whole "
               "story of the next two lessons. The sum matters too: on a task with a loss at "
               r"every step, $\partial L/\partial h_t$ adds one chain for every loss at and "
               "after step $t$, so the first steps can collect more gradient than the last "
               "even where every single chain shrinks. The Gradients page measures "
               r"$\|\partial L/\partial h_t\|$ for every step $t$ of the real model, and on "
               "such tasks also the last step's loss alone."),
    )),
    "vanishing": Topic("Vanishing gradients and the spectral radius", (
        ("md", "Multiply a vector by the same matrix W again and again and, after many steps, "
               "its length changes by about the **spectral radius** ρ (the largest "
               r"|eigenvalue|) per step: $\|W^k\|^{1/k} \to \rho$. That is the *asymptotic* "
               "rate of a **linear** RNN, not a bound: over a few steps W can stretch a "
               r"vector by more than ρ. The bound is the largest **singular value**, "
               r"$\sigma_{\max} = \|W_{hh}\|_2 \ge \rho$. "
               "Each step back multiplies the gradient by "
               r"$\operatorname{diag}(\varphi') W_{hh}$, and the slope φ′ of tanh (1 − h²) or "
               "relu (0 or 1) is at most 1, so after $k$ steps back:"),
        ("latex", r"\left\| \frac{\partial h_t}{\partial h_{t-k}} \right\| \le "
                  r"\sigma_{\max}(W_{hh})^k, \quad \sigma_{\max} < 1 \;\Rightarrow\; "
                  r"\text{exponential decay}; \qquad \|W^k\|^{1/k} \to \rho(W) "
                  r"\text{ (linear RNN)}"),
        ("md", "With ρ = 0.8, 50 steps of a linear RNN give about 0.8⁵⁰ ≈ 10⁻⁵. Learning "
               "does not stop — it just only hears about the last few steps. On the adding "
               "problem the first marked number is up to 50 steps back, so the weights never "
               "learn to keep it."),
        ("md", "The second way to vanish is **saturation**. Each step's Jacobian is "
               r"$\operatorname{diag}(1 - h^2)\, W_{hh}$: a unit sitting near ±1 has slope "
               r"1 − h² ≈ 0 and passes almost nothing back, whatever ρ or $\sigma_{\max}$ is. "
               "A trained vanilla RNN often grows ρ above 1 and saturates its units at the "
               r"same time. On the Gradients page the dotted line is the $\sigma_{\max}^k$ "
               r"bound and the dashed line the $\rho^k$ rate, both from the last step's "
               "gradient: the gradient of one loss never rises above the dotted line, and how "
               "far it falls below is saturation and the directions $W_{hh}$ shrinks. The "
               r"$\rho^k$ line can be crossed either way."),
    )),
    "exploding": Topic("Exploding gradients", (
        ("md", "The same product can grow instead. Where the step Jacobians stretch the "
               "gradient (for a linear RNN: a spectral radius ρ above 1), the factors compound: "
               "3 per step over 30 steps is 3³⁰ ≈ 2·10¹⁴. An update that large moves the "
               "weights to where the gradient is larger still, so the loss climbs by orders of "
               "magnitude, step after step, until it overflows. The Playground's red box gives "
               "an exploded run's own numbers and says which weights it kept."),
        ("md", "Adam, which divides each update by a running gradient size, survives more of "
               "these spikes than SGD (here SGD with momentum 0.9); it does not remove the "
               "cause."),
    )),
    "clipping": Topic("Gradient clipping", (
        ("md", "Clipping caps the length of the gradient before the update and keeps its "
               "direction (Pascanu, Mikolov & Bengio 2013):"),
        ("latex", r"g \leftarrow g \cdot \min\!\left(1, \frac{c}{\|g\|}\right)"),
        ("md", "Most steps pass through untouched; on a spike the gradient is shortened to "
               "length c instead of catapulting the weights. The update is the optimizer's: "
               "with SGD's momentum it still carries earlier gradients, so its direction can "
               "differ from the clipped gradient's. On the Gradients page the magenta dots are "
               "the steps that were clipped; the line is the raw norm before clipping."),
    )),
    "gating": Topic("Gates: learned switches for memory", (
        ("md", "An LSTM keeps a separate **cell state** $c_t$ and changes it only by gated "
               "addition (PyTorch's names and equations):"),
        ("latex", r"c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot "
                  r"\tanh(c_t), \qquad \frac{\partial c_t}{\partial c_{t-1}} = "
                  r"\operatorname{diag}(f_t)"),
        ("md", "The forget gate f, the input gate i and the output gate o are sigmoids between "
               "0 and 1 computed from $x_t$ and $h_{t-1}$. Where f ≈ 1 and i ≈ 0 a unit copies its "
               "value forward untouched — and the gradient flows back along it untouched too, "
               "because the Jacobian along c is just f. No matrix power, no vanishing."),
        ("md", "A **GRU** folds this into one state and two gates: the update gate z decides "
               "between keeping $h_{t-1}$ and writing a candidate $n_t$; the reset gate r decides "
               "how much of the past the candidate may use."),
        ("latex", r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}"),
    )),
    "initialization": Topic("Initialization", (
        ("md", "Training starts from the initial weights, and at step zero the gradient "
               "profile is set by them alone. PyTorch's default draws $W_{hh}$ uniformly in "
               "±1/√H: a random matrix whose ρ is well below 1, so the early steps get almost "
               "no signal. **Orthogonal** $W_{hh}$ keeps every vector's length (all singular "
               "values 1). **Identity** (IRNN, Le, Jaitly & Hinton 2015) goes further:"),
        ("latex", r"W_{hh} = I,\; b = 0 \;\Rightarrow\; h_t = \operatorname{relu}(h_{t-1} + "
                  r"W_{ih} x_t)"),
        ("md", "The network starts out as an accumulator that forgets nothing; training only "
               "has to learn what to *stop* remembering. The top row of the Gradients page's "
               "\"over training\" heatmap (training step 0) is the profile at initialization."),
    )),
    "optimizers": Topic("Optimizers", (
        ("md", "**SGD with momentum** moves along a running average of gradients: one learning "
               "rate for every weight, and a huge gradient means a huge step. **RMSprop** and "
               "**Adam** divide each weight's step by a running root-mean-square of its "
               "gradients, so steps stay near the learning rate whatever the gradient's scale:"),
        ("latex", r"\theta \leftarrow \theta - \eta \, \frac{\hat m}{\sqrt{\hat v} + "
                  r"\epsilon}"),
        ("md", "That is why the exploding run in lesson 3 uses SGD (with momentum 0.9): Adam "
               "would have absorbed the spike — and hidden the lesson."),
    )),
    "regularization": Topic("Overfitting and its remedies", (
        ("md", "A model with thousands of weights and 16 examples can memorise them: the "
               "training loss goes to zero and says nothing about new text. Only the "
               "**validation loss**, on text the model never trained on, tells you whether it "
               "learned the language or the examples."),
        ("md", "**Weight decay** λ (PyTorch's `weight_decay`) adds λθ to every gradient: the "
               "gradient of (λ/2)‖θ‖², so with SGD it trains exactly on the loss below, and "
               "weights grow only where the data insist. Adam and RMSprop add the same λθ and "
               "then divide by their running gradient size, so a weight with large gradients "
               "is held back less: an L2 penalty, not AdamW's decoupled decay. **Dropout** "
               "zeroes random activations between layers during training (here: between "
               "stacked layers, so it needs 2+ layers), so no unit can rely on "
               "one exact partner. **Early stopping** watches the validation loss and keeps the "
               "weights from its best moment. More data beats them all."),
        ("latex", r"L_{\text{total}} = L_{\text{data}} + \frac{\lambda}{2} \|\theta\|^2"),
    )),
    "forecasting": Topic("Forecasting on its own predictions", (
        ("md", "During training the network always reads the *true* previous value (teacher "
               "forcing). To forecast further than one step it must read its own previous "
               "prediction instead, and every small error becomes part of the next input:"),
        ("latex", r"\hat y_{t+1} = f(\hat y_t, h_t), \qquad \hat y_t \text{ in place of } x_t "
                  r"\text{ for } t \ge T_{\text{prompt}}"),
        ("md", "Errors compound, so a forecast that is excellent one step ahead can drift after "
               "twenty. The error panel shows how fast; the magenta cross marks the first step "
               "outside the band."),
    )),
    "text": Topic("Writing text and reading units", (
        ("md", "A character model outputs a probability for every next character. Sampling "
               "one, feeding it back and repeating writes text. **Temperature** τ sharpens "
               "(τ < 1) or flattens (τ > 1) the distribution before sampling:"),
        ("latex", r"p_i = \frac{\exp(z_i / \tau)}{\sum_j \exp(z_j / \tau)}"),
        ("md", "Colour each character by one unit's activation and some units turn out to "
               "mean something: inside a quotation, near the end of a line, within a word "
               "(Karpathy, Johnson & Fei-Fei 2015). The finder below ranks every unit by its "
               "correlation with such a feature. Expect mixtures: Karpathy's clean quote and "
               "line-length cells grew in large models trained for hours on megabytes of "
               "text. A small model trained for seconds on one short notebook learns the "
               "cheap, frequent things first — word boundaries, vowels — and its best units "
               "track them only partly."),
    )),
}
