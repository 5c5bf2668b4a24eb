"""``chainrule train addition`` end to end on a short run (the machinery and a falling loss, not
the accuracy target), ``chainrule predict`` on its model, the data generator, and bad options."""
import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.main import main
from chainrule.datasets.addition import (END, START, decode, encode_answers, encode_questions,
                                         make_addition)
from chainrule.training.addition import (AdditionLSTM, AdditionTransformer, answer, fit,
                                         load_model, save_model)


def test_data_are_seeded_distinct_and_held_out():
    a = make_addition(500, 100, seed=3)
    b = make_addition(500, 100, seed=3)
    assert a.train_questions == b.train_questions
    assert make_addition(500, 100, seed=4).train_questions != a.train_questions
    assert len(set(a.train_questions)) == 500
    assert not set(a.train_questions) & set(a.test_questions)
    for q, ans in zip(a.train_questions, a.train_answers):
        x, y = q.split("+")
        assert int(x) + int(y) == int(ans) and len(x) <= 3 and len(y) <= 3
    assert a.x_train.shape == (500, 7) and a.y_in_train.shape == (500, 5)
    assert (a.y_in_train[:, 0] == START).all()
    assert decode(a.y_out_train[0]) == a.train_answers[0]


def test_encoding_round_trips_and_reversal():
    x = encode_questions(["535+61", "1+2"])
    assert x.tolist() == [[6, 4, 6, 11, 0, 7, 2], [0, 0, 2, 11, 0, 0, 3]]   # column-aligned
    y_in, y_out = encode_answers(["596"], reverse=True)
    assert y_out.tolist() == [[7, 10, 6, END, 0]]
    assert decode(y_out[0], reverse=True) == "596"
    with pytest.raises(cr.DataError, match=r"question 0 '12\+x'"):
        encode_questions(["12+x"])
    with pytest.raises(cr.DataError, match="at most 3 digits"):
        encode_questions(["1234+1"])


@pytest.mark.parametrize("model", ["lstm", "transformer"])
def test_train_addition_short_run_then_predict(tmp_path, capsys, model):
    out = tmp_path / "run"
    code = main(["train", "addition", "--model", model, "--train-size", "600", "--test-size",
                 "40", "--epochs", "3", "--batch-size", "64", "--hidden", "16", "--out",
                 str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "sample predictions" in printed and "held-out exact match" in printed
    history = json.loads((out / "history.json").read_text())
    assert len(history["loss"]) == 3
    assert history["loss"][-1] < history["loss"][0]        # it learns
    assert (out / "model.chainrule").exists()
    questions = tmp_path / "q.txt"
    questions.write_text("535+61\n7+8\n")
    assert main(["predict", str(out / "model.chainrule"), str(questions)]) == 0
    lines = capsys.readouterr().out.split()
    assert [line.split("=")[0] for line in lines] == ["535+61", "7+8"]
    assert main(["predict", str(out / "model.chainrule"), "1+2, 30+4"]) == 0
    assert len(capsys.readouterr().out.split()) == 2


def test_saved_model_answers_like_the_original(tmp_path):
    cr.manual_seed(0)
    data = make_addition(300, 20, seed=1, reverse_answers=True)
    for model in (AdditionLSTM(embed=8, hidden=12), AdditionTransformer(16, 2, 1, 16)):
        history = fit(model, data, epochs=1, batch_size=50)
        path = tmp_path / f"{model.config['model']}.chainrule"
        save_model(str(path), model, history)
        again = load_model(str(path))
        assert answer(again, data.test_questions) == answer(model, data.test_questions)
        assert again.config == model.config


def test_bad_options_and_files(tmp_path, capsys):
    assert main(["train", "addition", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "--epochs must be a positive integer" in capsys.readouterr().err
    assert main(["train", "addition", "--target", "2", "--out", str(tmp_path)]) == 2
    assert "--target" in capsys.readouterr().err
    not_model = tmp_path / "x.chainrule"
    cr.save({"format": "something else"}, str(not_model))
    from chainrule.cli.addition import predict
    with pytest.raises(cr.CheckpointError, match="not an addition model"):
        predict(str(not_model), ["1+2"])


def test_greedy_decoding_shapes():
    model = AdditionLSTM(embed=4, hidden=6)
    ids = model.generate(cr.tensor(encode_questions(["1+1", "99+999"])), 5)
    assert ids.shape == (2, 5) and ids.dtype == cr.int64
    assert np.all((ids.numpy() >= 0) & (ids.numpy() < 14))
