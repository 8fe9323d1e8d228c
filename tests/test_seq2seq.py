"""Translation tasks and the encoder-decoder (issue 21) against independent oracles: the true
alignment on hand-written examples, attention that is a distribution, the encoder replay
against the fused module and against explicit cell equations, beam search against greedy
decoding and against brute-force enumeration, BLEU against sacrebleu, and runs that are runs
like any other (deterministic, run files, snapshots, unchanged keys for the other tasks)."""

from __future__ import annotations

import datetime
import itertools
import json

import pytest
import torch

import rnnviz
from rnnviz.core import en_fr
from rnnviz.core.config import RunConfig
from rnnviz.core.models import build_model
from rnnviz.core.runs import run_from_bytes, run_to_bytes
from rnnviz.core.seq2seq import (
    Seq2SeqModel,
    beam_search,
    encoder_gradient_profile,
    sequence_log_prob,
)
from rnnviz.core.seq2seq_tasks import DATE_FORMATS, date_example
from rnnviz.core.tasks import TASKS, probe_batch

SMALL = dict(hidden_size=8, steps=6, eval_every=3, probe_every=3, batch_size=8)


def test_date_alignment_by_hand():
    date = datetime.date(2021, 3, 7)
    by_text = {date_example(date, fmt)[0]: date_example(date, fmt) for fmt in DATE_FORMATS}
    text, iso, align = by_text["Sunday, 7th of March 2021"]
    assert iso == "2021-03-07"
    # 2021 at 21-24, "March" at 15, "7" at 8; '-' has no source
    assert align == [21, 22, 23, 24, -1, 15, 15, -1, 8, 8]
    text, iso, align = by_text["07/03/21"]
    assert align == [6, 6, 6, 7, -1, 3, 4, -1, 0, 1]  # the century read from "21"
    assert {"7 March 2021", "2021.3.7", "07/03/21", "March 7, 2021", "7 Mar 2021",
            "07.03.2021", "7/3/2021", "Sun 7 Mar 2021", "7-Mar-21", "the 7th of March, 2021",
            "MARCH 7 2021"} <= set(by_text)
    assert len(by_text) >= 10


def test_english_french_alignment_by_hand():
    fr, align = en_fr.reference("the red car does not see the black dogs".split())
    assert " ".join(fr) == "la voiture rouge ne voit pas les chiens noirs"
    #   the red car does not see the black dogs: la<-the, voiture<-car, rouge<-red, ne<-does,
    #   voit<-see, pas<-not, les<-the, chiens<-dogs, noirs<-black
    assert align == [0, 2, 1, 3, 5, 4, 6, 8, 7]
    fr, align = en_fr.reference("the white apples sleep and a boy finds a green house".split())
    assert " ".join(fr) == ("les pommes blanches dorment et un garçon trouve une maison verte")
    assert align == [0, 2, 1, 3, 4, 5, 6, 7, 8, 10, 9]
    for wrong, where in [("the dogs does not sleep", "'does'"), ("the dog sleep", "'sleep'"),
                         ("the cat does not sees", "'does'"), ("a cats sleep", "'cats'")]:
        with pytest.raises(ValueError, match=where):
            en_fr.reference(wrong.split())


def test_generated_sentences_follow_the_grammar():
    generator = torch.Generator().manual_seed(3)
    lengths = set()
    for _ in range(300):
        en, fr, align = en_fr.sentence(generator, 12)
        assert en_fr.reference(en) == (fr, align)
        lengths.add(len(en))
    assert min(lengths) == 3 and max(lengths) == 12


def test_reverse_alignment_is_the_anti_diagonal():
    x, y, align = TASKS["reverse"].sample_aligned(4, 6, torch.Generator().manual_seed(0))
    assert align[0].tolist() == [5, 4, 3, 2, 1, 0, -1]
    assert torch.equal(x.gather(1, align[:, :6]), y[:, :6])  # target ids equal source ids


def test_existing_keys_do_not_change():
    """The seq2seq fields are left out of the key at their defaults: an earlier run keeps
    its key, its file name and its Redis entry."""
    data = json.loads(RunConfig().key)
    assert "attention" not in data and "beam" not in data
    assert RunConfig(task="dates", seq_len=20, attention="dot").key != \
        RunConfig(task="dates", seq_len=20).key


def _model(attention: str, cell: str = "lstm", vocab_out: int = 6) -> Seq2SeqModel:
    torch.manual_seed(0)
    return Seq2SeqModel(cell, 7, vocab_out, 5, 8, attention=attention, task="reverse").eval()


@pytest.mark.parametrize("attention", ["dot", "additive"])
def test_attention_is_a_distribution_over_real_steps(attention):
    model = _model(attention)
    x = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    y = torch.tensor([[1, 2, 0, -1], [3, 1, 2, 0]])
    _, weights = model(x, y)
    assert (weights >= 0).all()
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4))
    assert (weights[0, :, :2] == 0).all()  # padding gets nothing


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_encoder_replay_equals_fused_module(cell):
    model = _model("additive", cell)
    x, y = torch.randint(1, 7, (3, 6)), torch.randint(0, 6, (3, 4))
    _, replayed = encoder_gradient_profile(model, x, y, TASKS["reverse"].loss_per_example)
    fused, _, _ = model.encode(x)
    assert torch.allclose(replayed, fused.detach(), atol=1e-5)


@pytest.mark.parametrize("attention", ["none", "dot"])
def test_encoder_gradient_equals_explicit_lstm_cells(attention):
    """||dL_b/dh_t^enc||, batch mean, against an LSTMCell unrolled by hand with the same
    weights: each h_t is a tensor the next step and the attention read, so its .grad is the
    total derivative."""
    model = _model(attention)
    x, y = torch.randint(1, 7, (3, 5)), torch.tensor([[1, 2, 0, -1], [3, 1, 2, 0], [0, -1, -1, -1]])
    task = TASKS["reverse"]
    profile, _ = encoder_gradient_profile(model, x, y, task.loss_per_example)
    cell = torch.nn.LSTMCell(5, 8)
    enc = model.encoder
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(enc, name + "_l0"))
    emb = model.source_embedding(x).detach()
    h, c = torch.zeros(3, 8), torch.zeros(3, 8)
    hs = []
    for t in range(5):
        h, c = cell(emb[:, t], (h, c))
        h.retain_grad()
        hs.append(h)
    states = torch.stack(hs, 1)
    dec, _ = model.decoder(model.target_embedding(model.decoder_inputs(y)),
                           (h.unsqueeze(0), c.unsqueeze(0)))
    logits, _ = model.read_out(dec, states, x != 0)
    task.loss_per_example(logits, y).sum().backward()
    want = torch.stack([hh.grad.double().norm(dim=1) for hh in hs], 1).mean(0).numpy()
    assert profile == pytest.approx(want, rel=1e-5, abs=1e-9)
    if attention == "none":
        assert want[0] < want[-1]  # only the recurrence carries it back


def test_beam_of_one_is_greedy():
    model = _model("dot")
    for seed in range(5):
        x = torch.randint(1, 7, (1, 5), generator=torch.Generator().manual_seed(seed))
        ids, _ = model.greedy(x, 6)
        ids = ids[0].tolist()
        greedy = ids[: ids.index(0)] if 0 in ids else ids
        assert beam_search(model, x, 6, 1)[0] == greedy


def test_wide_beam_equals_brute_force():
    """On 3 target tokens (<eos> and two symbols) and 4 steps, a beam of 8 keeps everything:
    its best must be the best of all 15 sequences that end with <eos>."""
    model = _model("additive", vocab_out=3)
    for seed in range(4):
        x = torch.randint(1, 7, (1, 4), generator=torch.Generator().manual_seed(seed))
        best = max((sequence_log_prob(model, x, list(seq) + [0]), list(seq))
                   for n in range(4) for seq in itertools.product((1, 2), repeat=n))
        ids, score, _, _ = beam_search(model, x, 4, 8)
        assert ids == best[1]
        assert score == pytest.approx(best[0], abs=1e-9)


def test_bleu_is_sacrebleus():
    import sacrebleu
    hyp, ref = ["le chat noir dort et la fille mange"], ["le chat noir dort et la fille voit"]
    assert rnnviz.core.translate.bleu(hyp, ref) == pytest.approx(
        sacrebleu.corpus_bleu(hyp, [ref], tokenize="none").score)
    assert rnnviz.core.translate.bleu(hyp, ref) == pytest.approx(84.0896, abs=1e-3)


def test_training_is_a_run_like_any_other():
    cfg = RunConfig(task="dates", seq_len=14, attention="additive", teacher_forcing=0.5, **SMALL)
    run, again = rnnviz.train(cfg), rnnviz.train(cfg)
    assert all(torch.equal(a, b) for a, b in zip(run.model.state_dict().values(),
                                                  again.model.state_dict().values()))
    assert run.snapshot_steps == [0, 3, 6]
    back = run_from_bytes(run_to_bytes(run))
    assert torch.equal(back.model_at(3).head.weight, run.model_at(3).head.weight)
    assert not torch.equal(back.model_at(0).head.weight, back.model_at(6).head.weight)
    assert torch.equal(build_model(cfg).head.weight, run.model_at(0).head.weight)
    assert run.history.probe_grad.shape[1] == 14 and run.history.probe_grad[0].max() > 0
    assert probe_batch(cfg)[1].shape[1] == 11


def test_translate_answers_and_refuses_plainly():
    cfg = RunConfig(task="dates", seq_len=20, attention="dot", **SMALL)
    run = rnnviz.train(cfg)
    out = rnnviz.translate(run, "7 March 2021", beam=2)
    assert out.source_tokens == list("7 March 2021")
    assert out.attention.shape == (len(out.tokens) + (len(out.tokens) < 11), 12)
    assert out.attention.sum(1) == pytest.approx(1.0)
    for source, beam, words in [("", 1, "empty"), ("   ", 1, "empty"),
                                ("7 March 2021, a Sunday afternoon", 1, "at most 20"),
                                ("7 März 2021", 1, "does not know 'z', 'ä'"),
                                ("7 March 2021", 0, "from 1 to 10")]:
        with pytest.raises(ValueError, match=words):
            rnnviz.translate(run, source, beam=beam)
    plain = rnnviz.train(cfg.replace(attention="none"))
    assert rnnviz.translate(plain, "7/3/2021").attention is None


def test_live_attention_travels_through_shared_mode():
    """A shared-mode worker writes its live view to Redis as JSON (serve.shared): a
    translation run's attention view must survive the trip (it raised AttributeError: no
    'cell')."""
    from rnnviz.serve import shared
    from rnnviz.studies.inside import inside_view
    cfg = RunConfig(task="reverse", seq_len=5, attention="dot", **SMALL)
    x, y = probe_batch(cfg)
    view = inside_view(build_model(cfg), x, y, 0)
    back = shared.decode_inside(shared.encode_inside(view))
    assert (back.source, back.target, back.forced, back.step) == (
        view.source, view.target, view.forced, 0)
    assert len(view.forced) == len(view.target) + 1
    assert back.weights.tolist() == view.weights.tolist()
    assert back.weights.sum(1) == pytest.approx(1.0, abs=1e-6)


def test_aligned_probe_is_the_probe_batch():
    from rnnviz.studies.translation import aligned_probe
    for task in ("reverse", "dates", "en_fr"):
        cfg = RunConfig(task=task, seq_len=14)
        x, y, _ = aligned_probe(cfg)
        px, py = probe_batch(cfg)
        assert torch.equal(x, px) and torch.equal(y, py)


def test_bottleneck_sweep_same_budget_and_its_chart():
    from rnnviz import charts
    from rnnviz.studies.translation import bottleneck_configs, bottleneck_table
    configs = bottleneck_configs("none", lengths=(3, 4))
    assert [(c.seq_len, c.attention) for c in configs] == [
        (3, "none"), (3, "additive"), (4, "none"), (4, "additive")]
    assert len({(c.steps, c.lr, c.hidden_size, c.cell, c.seed) for c in configs}) == 1
    runs = [rnnviz.train(c.replace(**SMALL)) for c in configs]
    table = bottleneck_table(runs)
    figure = charts.bottleneck_chart(table)
    plain = next(t for t in figure.data if t.name == "no attention")
    assert list(plain.y) == [float(runs[0].history.val_metric[-1]),
                             float(runs[2].history.val_metric[-1])]


def test_hidden_states_equal_a_step_by_step_replay():
    """The states the page draws (one fused call each) against the encoder replayed step by
    step and the decoder stepped token by token (the fused module on one step at a time)."""
    from rnnviz.studies.translation import hidden_states
    model = _model("dot", "gru")
    x, y = torch.tensor([[0, 0, 3, 4, 5]]), torch.tensor([[1, 2, 0, -1]])
    states = hidden_states(model, x, y)
    _, replayed = encoder_gradient_profile(model, x, y, TASKS["reverse"].loss_per_example)
    assert torch.allclose(torch.from_numpy(states.encoder), replayed[0, 2:], atol=1e-5)
    _, state, _ = model.encode(x)
    rows = []
    for token in model.decoder_inputs(y)[0, :3]:
        out, state = model.decoder(model.target_embedding(token.view(1, 1)), state)
        rows.append(out[0, 0])
    assert torch.allclose(torch.from_numpy(states.decoder), torch.stack(rows).detach(),
                          atol=1e-5)
    assert states.target[-1] == "<eos>" and len(states.source) == 3


def test_validation_scores_of_an_en_fr_run():
    """Exact match is the run's own last validation; BLEU is sacrebleu's on the greedy
    outputs against the grammar's French."""
    import sacrebleu

    from rnnviz.core.tasks import validation_set
    from rnnviz.studies.translation import validation_scores
    run = rnnviz.train(RunConfig(task="en_fr", seq_len=5, attention="additive", **SMALL))
    scores = validation_scores(run)
    assert scores["exact"] == pytest.approx(float(run.history.val_metric[-1]))
    x, y = validation_set(run.config)
    task = run.task
    hyps = [rnnviz.translate(run, " ".join(task.source_vocab[i] for i in row if i)).text
            for row in x[:256].tolist()]
    refs = [" ".join(task.target_vocab[i] for i in row[: row.index(0)]) for row in y.tolist()]
    assert scores["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hyps, [refs], tokenize="none").score, abs=1e-9)
