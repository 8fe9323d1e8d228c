"""Gradients: how much learning signal back-propagation through time delivers to each step."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz import charts
from rnnviz.app import state, views
from rnnviz.core.analysis import recurrent_spectra
from rnnviz.core.trace import parameter_gradient_norms

st.title("Gradients through time")
st.markdown(
    "Training moves each weight by the gradient of the loss. To reach step t, that gradient "
    "travels backwards through every later step, and each step multiplies it by the step "
    "Jacobian ∂h_t/∂h_{t-1}. If those factors are below 1 the signal **vanishes** "
    "exponentially with distance and the network cannot learn long dependencies; above 1 it "
    "**explodes**.")
st.latex(r"\frac{\partial L}{\partial h_t} = \sum_{k \ge t} "
         r"\frac{\partial L_k}{\partial h_k}\prod_{j=t+1}^{k}\frac{\partial h_j}{\partial h_{j-1}}")

run = views.require_run()
if run is not None:
    cfg = run.config
    layer, example, tr, x, y = views.inspection_controls(run)
    spectra = state.cached(run, "spectra", lambda: recurrent_spectra(run.model))
    profile = tr.grad_h[layer].mean(axis=0)
    radius = next((s.spectral_radius for s in spectra if s.layer == layer), None)
    reference = radius if cfg.cell == "rnn" else None
    ratio = profile[0] / profile[-1] if profile[-1] > 0 else float("nan")
    st.subheader("Gradient reaching each time step, now")
    views.chart(charts.gradient_profile(profile, reference),
                f"‖∂L/∂h_t‖ averaged over a batch of 16 examples (log scale). The first step "
                f"receives **{ratio:.2g}×** the gradient of the last. "
                + ("The dashed line is what the spectral radius ρ of W_hh alone predicts: a "
                   "factor ρ per step, ignoring tanh's saturation (which only shrinks it)."
                   if reference else
                   f"Gated cells have no single factor: the mean step-Jacobian norm here is "
                   f"{float(tr.jacobian_norm[layer].mean()):.2f}, set by the gates at each step."),
                key="profile")

    st.subheader("Over training")
    views.chart(charts.probe_heatmap(run.history.probe_step, run.history.probe_grad),
                "Each row is a snapshot taken during training on the same probe batch: the "
                "gradient at every time step (colour, log scale). Dark columns on the left "
                "are steps the learning signal does not reach; watch whether they brighten as "
                "the model learns.", key="probe")
    views.chart(charts.grad_norm_over_training(run.history, cfg.clip),
                "The total gradient norm of every training step, before clipping. Red marks "
                "the steps where clipping rescaled it to the threshold (dashed).",
                key="grad_norm")

    left, right = st.columns(2)
    with left:
        norms = state.cached(run, f"param-grads-{state.example_batch_id()}",
                             lambda: parameter_gradient_norms(run.model, x, y))
        views.chart(charts.parameter_grad_bars(norms),
                    "Gradient norm of each weight matrix and bias on this batch: which "
                    "parameters the loss is pushing on right now.", key="param_grads")
    with right:
        views.chart(charts.singular_value_chart(spectra),
                    "Singular values of each recurrent block W_h·. Above 1 a direction is "
                    "stretched at every step, below 1 it is shrunk.", key="singular")
    views.chart(charts.saliency_chart(tr.grad_x[example]),
                f"Input saliency ‖∂L/∂x_t‖ of example {example}: how much its loss would change "
                "if the input at step t changed. For the adding problem, the two marked steps "
                "stand out once the network has learned.", key="saliency")
