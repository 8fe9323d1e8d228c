"""The beam-search tree on the Translation page (issue 21: "the beam-search tree with its
scores, against greedy"): its nodes are the search's own hypotheses and scores, and its two
paths are the beam's answer and greedy decoding's, each scored by an independent teacher-forced
log-probability."""

from __future__ import annotations

import json

import pytest
import torch

from rnnviz import charts
from rnnviz.core.seq2seq import Seq2SeqModel, beam_search, sequence_log_prob

VOCAB = ["<eos>", "a", "b", "c", "d", "e"]


def _model() -> Seq2SeqModel:
    """Untrained weights scaled up three times: sharper distributions, so that on these
    sources the beam's answer ends with <eos> after 2-3 tokens while greedy runs on and
    scores worse (an untrained model at its own scale answers <eos> at once, a one-node tree)."""
    torch.manual_seed(11)
    model = Seq2SeqModel("lstm", 7, len(VOCAB), 5, 8, attention="additive", task="reverse")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(3)
    return model.eval()


def _words(ids):
    return [VOCAB[i] for i in ids]


def _trace(figure, name_start):
    return next(t for t in figure.data if (t.name or "").startswith(name_start))


@pytest.mark.parametrize("seed", range(3))
def test_the_tree_draws_the_searchs_hypotheses_and_scores(seed):
    model = _model()
    x = torch.randint(1, 7, (1, 5), generator=torch.Generator().manual_seed(seed))
    ids, score, _, tree = beam_search(model, x, 6, 3)
    greedy_ids, greedy_score, _, _ = beam_search(model, x, 6, 1)
    assert len(ids) >= 2 and ids != greedy_ids and len(tree) >= 5  # a tree worth drawing
    words = [[(_words(h), s) for h, s in step] for step in tree]
    figure = charts.beam_tree(words, _words(ids), score, _words(greedy_ids), greedy_score)
    json.dumps(figure.to_plotly_json(), default=str)  # serialisable as the page sends it
    nodes = _trace(figure, "hypotheses kept")
    want = [(0, 1, "<bos>", 0.0)] + [(k, rank, _words(h)[-1], s)
                                     for k, step in enumerate(tree, start=1)
                                     for rank, (h, s) in enumerate(step, start=1)]
    got = list(zip(nodes.x, nodes.y, nodes.text, nodes.customdata))
    assert [(a, b, c) for a, b, c, _ in got] == [(a, b, c) for a, b, c, _ in want]
    assert [d for *_, d in got] == pytest.approx([d for *_, d in want], abs=0)
    # every hover names the whole hypothesis and its score
    for (k, rank, _, s), hover in zip(want[1:], nodes.hovertext[1:]):
        assert f"log-probability {s:.3f}" in hover
        assert hover.split("<br>")[0] == "".join(_words(tree[k - 1][rank - 1][0]))
    # the scores are the model's: the answer's and greedy's against teacher forcing
    # (float32 logits: step by step and all at once round apart by ~1e-8)
    assert score == pytest.approx(sequence_log_prob(model, x, ids + [0]), abs=1e-6)
    # greedy's: with its <eos> when it wrote one within the 6 steps (a beam can end worse
    # than greedy: it prunes, and that is what the figure lets a learner see)
    ended = greedy_ids + [0] if len(greedy_ids) < 6 else greedy_ids
    assert greedy_score == pytest.approx(sequence_log_prob(model, x, ended), abs=1e-6)
    answer = _trace(figure, "beam's answer")
    assert answer.name == f"beam's answer ({score:.2f})"
    # the path's nodes are the answer's prefixes, each at its step and rank in the search
    for j, (k, rank) in enumerate(zip(answer.x, answer.y)):
        if j == 0:
            assert (k, rank) == (0, 1)
            continue
        assert k == j and tree[k - 1][rank - 1][0] == ids[:j]
    assert len(answer.x) == len(ids) + 1
    greedy = _trace(figure, "greedy")
    assert greedy.name == f"greedy ({greedy_score:.2f})"
    for j, (k, rank) in enumerate(zip(greedy.x[1:], greedy.y[1:]), start=1):
        assert tree[k - 1][rank - 1][0] == greedy_ids[:j]


def test_the_tree_in_the_house_style():
    """As tests/test_attention_charts.py holds the page's other figures: title lines that fit
    a phone, axis titles, hover text on every trace, a legend naming the two paths."""
    import re
    model = _model()
    x = torch.randint(1, 7, (1, 5), generator=torch.Generator().manual_seed(0))
    ids, score, _, tree = beam_search(model, x, 6, 3)
    greedy_ids, greedy_score, _, _ = beam_search(model, x, 6, 1)
    fig = charts.beam_tree([[(_words(h), s) for h, s in step] for step in tree], _words(ids),
                           score, _words(greedy_ids), greedy_score)
    for line in re.split(r"<br\s*/?>", fig.layout.title.text):
        assert len(re.sub(r"<[^>]+>", "", line)) <= 45, fig.layout.title.text
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    assert all(trace.hovertemplate for trace in fig.data)
    assert {t.name.split(" (")[0] for t in fig.data if t.showlegend is not False} == {
        "greedy", "beam's answer", "hypotheses kept"}
