"""Gradients: how much learning signal back-propagation through time delivers to each step."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import rewind, state, views
from rnnviz.core.analysis import recurrent_spectra
from rnnviz.core.trace import last_loss_gradient_profile, parameter_gradient_norms
from rnnviz.studies import gradient_notes as notes

# what to look for in the saliency of each task (nothing is said where there is no rule of thumb)
SALIENCY_HINTS = {
    "adding": "For the adding problem, the two marked steps stand out once the network has "
              "learned.",
    "parity": "For parity, only the marked bits should matter once the network has learned.",
    "sentiment": "For a sentence, the words that decide it (an adjective, a negator, 'but') "
                 "stand out once the network has learned.",
}

st.title("Gradients through time")
st.markdown(
    "Training moves each weight by the gradient of the loss. To reach step $t$, that "
    "gradient travels backwards through every later step, and each step multiplies it by the "
    r"step Jacobian $\partial h_t/\partial h_{t-1}$. If those factors are below 1 the signal "
    "**vanishes** exponentially with distance and the network cannot learn long "
    "dependencies; above 1 it **explodes**.")
st.latex(r"\frac{\partial L}{\partial h_t} = \sum_{k \ge t} "
         r"\frac{\partial L_k}{\partial h_k}\prod_{j=t+1}^{k}\frac{\partial h_j}{\partial h_{j-1}}")


def derived(run, batch_id: int, layer: int | None = None) -> tuple:
    """The page's numbers of ``run`` beyond its trace, on the example batch ``batch_id``:
    spectra, the last step's loss alone (many-to-many tasks; ``layer``, default the top one),
    parameter gradient norms. Each is kept on the run, so ``rewind`` computes them ahead, in
    its background thread (no Streamlit there), for the snapshots next to the one shown
    (``warm``) and the page finds them there."""
    layer = run.config.num_layers - 1 if layer is None else layer
    _, x, y = state.run_trace(run, batch_id)
    spectra = state.cached(run, "spectra", lambda: recurrent_spectra(run.model))
    # on a many-to-many task only the last step's loss alone is bounded by one power of W_hh
    last_loss = None if run.model.many_to_one else state.cached(
        run, f"last-loss-{batch_id}-{layer}",
        lambda: last_loss_gradient_profile(run.model, x, y, layer))
    norms = state.cached(run, f"param-grads-{batch_id}",
                         lambda: parameter_gradient_norms(run.model, x, y))
    return spectra, last_loss, norms


def draw(run) -> None:
    """The charts of one training step (the slider reruns only them: ``rewind``)."""
    cfg = run.config
    layer, example, tr, x, y = views.inspection_controls(run)
    spectra, last_loss, norms = derived(run, state.example_batch_id(), layer)
    many_to_one = run.model.many_to_one
    block = next((s for s in spectra if s.layer == layer), None)
    # the theory lines are the vanilla RNN's, and only the top layer's gradient is carried by
    # its own W_hh alone (a lower layer's also arrives through the layer above)
    theory = cfg.cell == "rnn" and layer == cfg.num_layers - 1 and block is not None
    radius, sigma_max = ((block.spectral_radius, float(block.singular_values[0])) if theory
                         else (None, None))
    st.subheader("Gradient reaching each time step, now")
    views.chart(charts.gradient_profile(
                    tr.grad_h[layer].mean(axis=0), radius, sigma_max=sigma_max,
                    last_loss=None if last_loss is None else last_loss.mean(axis=0),
                    activation=cfg.nonlinearity),
                notes.profile_caption(
                    tr.grad_h[layer], cell=cfg.cell, many_to_one=many_to_one,
                    nonlinearity=cfg.nonlinearity, last_loss=last_loss,
                    spectral_radius=radius, sigma_max=sigma_max,
                    jacobian_norm=tr.jacobian_norm[layer] if tr.jacobian_norm else None,
                    layer=layer, num_layers=cfg.num_layers),
                key="profile")

    left, right = st.columns(2)
    with left:
        views.chart(charts.parameter_grad_bars(norms),
                    "Gradient norm of each weight matrix and bias on this batch: which "
                    "parameters the loss is pushing on right now.", key="param_grads")
    with right:
        views.chart(charts.singular_value_chart(spectra),
                    notes.singular_values_caption(cfg.cell, spectra, tr.gates[layer],
                                                  cfg.nonlinearity, layer), key="singular")
    views.chart(charts.saliency_chart(tr.grad_x[example]),
                rf"Input saliency $\|\partial L/\partial x_t\|$ of example {example}: "
                "how much its loss would change if the input at step $t$ changed. "
                + SALIENCY_HINTS.get(cfg.task, ""),
                key="saliency")


def over_training(run) -> None:
    """The charts of the whole training (no step: drawn once, outside the slider's reruns)."""
    st.subheader("Over training")
    views.chart(charts.probe_heatmap(run.history.probe_step, run.history.probe_grad),
                "Each row is a snapshot taken during training on the same probe batch, from "
                "the top row (training step 0, the initial weights) down to the last: the "
                "gradient of the top layer at every time step (colour, log scale). Dark columns "
                "on the left are steps the learning signal does not reach; read down to see "
                "whether they brighten as the model learns.", key="probe", of_step=False)
    views.chart(charts.grad_norm_over_training(run.history, run.config.clip),
                "The total gradient norm of every training step, before clipping. Magenta marks "
                "the steps where clipping rescaled it to the threshold (dashed).",
                key="grad_norm", of_step=False)


run = views.require_run()
if run is not None:
    rewind.rewind(run, draw=draw, warm=derived)
    over_training(run)
