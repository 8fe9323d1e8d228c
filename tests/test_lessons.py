"""Every lesson's claim, measured on its real runs with the shipped settings and seed.

The lesson runs are trained once for the module, in the engine's worker processes (each run
uses one torch thread, so two workers keep both cores of a small machine busy).
"""

import numpy as np
import pytest

from rnnviz.cli import lessons_through_jobs
from rnnviz.serve.many import train_many
from rnnviz.studies.explain import TOPICS
from rnnviz.studies.lessons import (
    ADDING_LSTM,
    ADDING_RNN_50,
    APPLICATION_CONFIGS,
    LESSONS,
    PAGES,
    SHORT_GRU,
    SHORT_LSTM,
    lesson_configs,
    train_lesson,
)
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def trained():
    configs = lesson_configs()
    return {cfg.key: run for cfg, run in zip(configs, train_many(configs))}


def _runs(trained, key):
    return train_lesson(LESSONS[key], trained)


def test_lessons_are_complete_and_point_at_real_pages():
    from rnnviz.app.main import PAGES as NAVIGATION

    navigation = [f"pages/{file}" for file, _, _ in NAVIGATION]
    assert [lesson.number for lesson in LESSONS.values()] == list(range(1, len(LESSONS) + 1))
    assert len(LESSONS) >= 7
    for lesson in LESSONS.values():
        assert lesson.page in PAGES and (ROOT / lesson.page).exists()
        assert lesson.page in navigation, f"{lesson.page} is not in the app's navigation"
        assert lesson.look_at and lesson.question.endswith("?") and lesson.claim
        assert all(topic in TOPICS for topic in lesson.topics)
        labels = [label for label, _ in lesson.runs]
        assert len(labels) == len(set(labels))
        for cfg in lesson.configs:
            assert cfg.device == "cpu", "lesson runs are pinned to the CPU the claims hold on"


def test_lesson_configs_are_distinct_and_comparisons_are_fair():
    configs = lesson_configs()
    assert len({cfg.key for cfg in configs}) == len(configs)
    # lesson 4 is lesson 2's 50-step task; lesson 5 trains both cells alike
    assert (ADDING_LSTM.task, ADDING_LSTM.seq_len) == (ADDING_RNN_50.task, ADDING_RNN_50.seq_len)
    assert SHORT_GRU == SHORT_LSTM.replace(cell="gru")
    everything = lesson_configs(applications=True)
    assert all(cfg in everything for cfg in APPLICATION_CONFIGS.values())


def test_recurrence_memory_is_what_forecasts(trained):
    outcome = LESSONS["recurrence"].outcome(_runs(trained, "recurrence"))
    n = outcome.numbers
    assert outcome.holds, outcome.facts
    assert n["with_memory"] < 0.12 * n["chance"]
    assert n["without_memory"] > 3 * n["with_memory"]
    # at t = 0 there is no past: wiping the memory changes nothing there
    assert outcome.arrays["with_memory"][0] == pytest.approx(outcome.arrays["without_memory"][0],
                                                             rel=1e-4)


def test_vanishing_learns_at_20_fails_at_50_and_the_gradient_shows_why(trained):
    outcome = LESSONS["vanishing"].outcome(_runs(trained, "vanishing"))
    n = outcome.numbers
    assert outcome.holds, outcome.facts
    assert n["short_val"] < 0.25 * n["short_chance"]
    assert n["long_val"] > 0.75 * n["chance"]  # near chance
    assert n["long_ratio"] < 1e-4  # earliest step: orders of magnitude below the last
    assert np.all(np.isfinite(outcome.arrays["T = 50"]))


def test_exploding_without_clipping_and_training_with_it(trained):
    runs = _runs(trained, "exploding")
    outcome = LESSONS["exploding"].outcome(runs)
    assert outcome.holds, outcome.facts
    assert "exploded" in runs["no clipping"].history.stop_reason
    assert runs["clipping at 1"].history.stop_reason == "finished"
    assert runs["clipping at 1"].history.clipped.any()


def test_lstm_solves_it_with_forget_gate_near_one_on_the_carrier(trained):
    outcome = LESSONS["lstm"].outcome(_runs(trained, "lstm"))
    n = outcome.numbers
    assert outcome.holds, outcome.facts
    assert n["val"] < 0.05 * n["chance"]  # a small fraction of chance
    assert abs(n["correlation"]) > 0.9 and n["carrier_forget"] > 0.95


def test_gru_matches_lstm_with_three_quarters_of_the_recurrent_weights(trained):
    outcome = LESSONS["gru"].outcome(_runs(trained, "gru"))
    assert outcome.holds, outcome.facts
    assert outcome.numbers["gru_params"] < outcome.numbers["lstm_params"]


def test_initialization_identity_keeps_the_gradient_and_learns(trained):
    outcome = LESSONS["init"].outcome(_runs(trained, "init"))
    n = outcome.numbers
    assert outcome.holds, outcome.facts
    assert n["ratio_identity"] > 0.1 and n["ratio_default"] < 1e-10
    # chance is the validation set's best constant (0.152 at T=50, not 1/6)
    assert n["best_identity"] < n["chance"] / 2 and n["best_default"] > 0.75 * n["chance"]


def test_overfitting_and_its_remedies(trained):
    runs = _runs(trained, "overfitting")
    outcome = LESSONS["overfitting"].outcome(runs)
    n = outcome.numbers
    assert outcome.holds, outcome.facts
    assert runs["16 examples"].config.train_size == 16
    assert n["plain_val"] > 1.5 * n["plain_best"]  # validation turned around and climbed
    assert n["decay_val"] < n["plain_val"]


def test_every_fact_is_measured(trained):
    """The page shows ``facts``: they must carry numbers, and the outcome is cached per runs."""
    for lesson in LESSONS.values():
        runs = _runs(trained, lesson.key)
        outcome = lesson.outcome(runs)
        assert outcome is lesson.outcome(runs)
        assert all(any(ch.isdigit() for ch in fact) for fact in outcome.facts)


def test_lessons_timed_as_the_page_trains_them(capsys):
    lessons_through_jobs(["exploding"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("lesson") and "workers" in out[0]
    fields = out[1].split()
    assert out[1].startswith("3. Exploding") and "True" in fields and fields[-2] == "2"
    assert float(fields[-1]) > 0


def test_the_kernels_asked_for_are_the_kernels_running():
    """.ci/run runs the claim and lesson tests a second time with ATEN_CPU_CAPABILITY=default:
    the second run is worth something only if torch really took the portable kernels."""
    import os

    import torch
    asked = os.environ.get("ATEN_CPU_CAPABILITY")
    if not asked:
        pytest.skip("native kernels: ATEN_CPU_CAPABILITY is not set")
    assert torch.backends.cpu.get_cpu_capability() == asked.upper()


def test_lesson_2_measures_each_run_against_its_own_chance(trained):
    """The 20-step run is set against the 20-step validation set's chance (0.150), not the
    50-step run's (0.152): chance computed here with numpy, from the validation targets."""
    from rnnviz.core.tasks import validation_set
    from rnnviz.studies.lesson_measures import final_val_loss
    runs = _runs(trained, "vanishing")
    short = runs["T = 20"]
    _, targets = validation_set(short.config)
    y = targets.numpy().astype(np.float64)
    chance = float(((y - y.mean(axis=0)) ** 2).mean())
    fact = LESSONS["vanishing"].outcome(runs).facts[0]
    value = final_val_loss(short)
    assert f"{value / chance:.0%} of chance ({chance:.3g})" in fact, fact


def test_lesson_6_says_how_much_of_the_gradient_the_identity_start_passes_back(trained):
    """Audit: "passes the gradient back almost intact" when 0.57 of it reaches step 0. The share
    is computed here with an unrolled loop (tests.oracles) on the initial weights."""
    from rnnviz.core.models import build_model
    from rnnviz.core.tasks import probe_batch
    from tests.oracles import rnn_profile_by_hand
    lesson = LESSONS["init"]
    cfg = dict(lesson.runs)["identity"]
    x, y = probe_batch(cfg)
    profile = rnn_profile_by_hand(build_model(cfg), x, y)
    share = float(profile[0] / profile[-1])
    assert 0.1 < share < 0.9  # a large share, not "almost intact"
    assert "intact" not in lesson.claim
    assert "more than a tenth" in lesson.claim
    facts = " ".join(lesson.outcome(_runs(trained, "init")).facts)
    assert f"{share:.0%} of the gradient reaches step 0" in facts, facts
    assert "passes back intact" not in facts


def test_lesson_9_counts_the_digits_each_run_names(trained):
    """Lesson 9's accuracies against two independent counts: the training loop's own last
    validation accuracy (every recording of the test split, counted while training), and the
    held-out speaker's 50 test takes found one by one with ``speech.find`` and read by the
    model through its own forward pass; every number in the facts is these."""
    import torch

    from rnnviz.core import speech
    runs = _runs(trained, "speech")
    outcome = LESSONS["speech"].outcome(runs)
    n = outcome.numbers
    assert outcome.holds, outcome.facts
    for label, name in (("LSTM", "lstm_acc"), ("vanilla RNN", "rnn_acc"),
                        ("LSTM, new voice", "new_voice_acc")):
        # the loop's accuracy is a float32 mean: equal to within 1e-6 (one recording is 2e-3)
        assert n[name] == pytest.approx(float(runs[label].history.val_metric[-1]), abs=1e-6)
    held_out = "theo"
    for label, name in (("LSTM", "heard_speaker"), ("LSTM, new voice", "unheard_speaker")):
        run, right = runs[label], 0
        for digit in range(10):
            for take in range(5):
                samples = speech.recording(speech.find(digit, held_out, take))
                x = speech.pad_frames(speech.frames(samples), run.config.seq_len)
                with torch.no_grad():
                    right += int(run.model.eval()(x[None]).argmax(dim=-1).item() == digit)
        assert n[name] == pytest.approx(right / 50)
    facts = " ".join(outcome.facts)
    for value in (n["lstm_acc"], n["rnn_acc"], n["new_voice_acc"]):
        assert f"**{value:.1%}**" in facts
    assert f"**{n['heard_speaker']:.0%}**" in facts and f"**{n['unheard_speaker']:.0%}**" in facts
    ratio = (1 - n["new_voice_acc"]) / (1 - n["lstm_acc"])
    assert f"**{ratio:.1f}** times as many wrong" in facts


def _encoder_gradient_by_hand(model, x, y, loss_per_example):
    """||dL_b/dh_t^enc||, batch mean, with the encoder unrolled as an LSTMCell holding the
    fused module's weights: each h_t is a tensor the next step (and attention) reads, so its
    .grad is the total derivative (tests/test_seq2seq.py's oracle, on a real run's weights)."""
    import torch
    enc = model.encoder
    cell = torch.nn.LSTMCell(enc.input_size, enc.hidden_size)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(enc, name + "_l0"))
    model.eval()
    emb = model.source_embedding(x).detach()
    h = torch.zeros(x.shape[0], enc.hidden_size)
    c = torch.zeros_like(h)
    hs = []
    for t in range(x.shape[1]):
        h, c = cell(emb[:, t], (h, c))
        h.retain_grad()
        hs.append(h)
    dec, _ = model.decoder(model.target_embedding(model.decoder_inputs(y)),
                           (h.unsqueeze(0), c.unsqueeze(0)))
    logits, _ = model.read_out(dec, torch.stack(hs, 1), x != 0)
    loss_per_example(logits, y).sum().backward()
    return torch.stack([hh.grad.double().norm(dim=1) for hh in hs], 1).mean(0).numpy()


def test_lesson_10_measures_the_bottleneck_and_the_first_steps_gradient(trained):
    """Lesson 10's numbers against independent counts: each exact match is the training loop's
    own last validation (free decoding of the whole validation set); the first encoder step's
    gradient before training is an LSTMCell unrolled by hand on the step-0 snapshot's weights;
    the crossover is recomputed from those exact matches; every number in the facts is these."""
    from rnnviz.core.tasks import TASKS, probe_batch
    from rnnviz.studies.lesson_attention import GRADIENT_TIMES, HALF, LENGTHS, label
    runs = _runs(trained, "attention")
    outcome = LESSONS["attention"].outcome(runs)
    n = outcome.numbers
    assert outcome.holds, outcome.facts
    for length in LENGTHS:
        for kind, name in (("none", "plain"), ("additive", "attention")):
            run = runs[label(length, kind)]
            assert run.history.val_step[-1] == run.config.steps
            assert n[f"{name}_{length}"] == pytest.approx(float(run.history.val_metric[-1]),
                                                          abs=1e-6)
    first_below = next(length for length in LENGTHS
                       if n[f"plain_{length}"] < HALF * n[f"attention_{length}"])
    assert n["crossover"] == first_below and first_below > LENGTHS[0]
    longest = LENGTHS[-1]
    firsts = {}
    for kind in ("none", "additive"):
        run = runs[label(longest, kind)]
        assert run.history.probe_step[0] == 0
        x, y = probe_batch(run.config)
        by_hand = _encoder_gradient_by_hand(run.model_at(0), x, y,
                                            TASKS["reverse"].loss_per_example)
        np.testing.assert_allclose(run.history.probe_grad[0], by_hand, rtol=1e-4, atol=1e-9)
        firsts[kind] = by_hand[0]
    assert n["first_with"] == pytest.approx(firsts["additive"], rel=1e-4)
    assert n["first_without"] == pytest.approx(firsts["none"], rel=1e-4)
    assert firsts["additive"] >= GRADIENT_TIMES * firsts["none"]
    facts = " ".join(outcome.facts)
    assert f"at **{first_below}** letters" in facts
    assert f"**{n['gradient_ratio']:.3g}** times as much" in facts
    for length in LENGTHS:
        assert (f"{length} letters: **{n[f'plain_{length}']:.0%}** without, "
                f"**{n[f'attention_{length}']:.0%}** with") in facts
