"""The addition data set: questions such as ``"535+61"`` and their answers ``"596"``, generated
from a seed, the classic sequence-to-sequence exercise.

Each operand has 1 to *digits* digits (the length drawn uniformly, then the digits, as in Keras's
addition example). Questions and answers are encoded with one small vocabulary::

    id 0 pad   1-10 digits '0'-'9'   11 '+'   12 start of answer   13 end of answer

``make_addition(n_train, n_test, digits=3, seed=0)`` returns distinct questions, none of the test
questions among the training ones (held-out sums), encoded as integer arrays:
*x* (n, 2·digits+1) the question, each number right-aligned in its own field of *digits*
characters (as in a column sum); *y_in* (n, digits+2) start + answer (the
decoder's input when teacher forcing); *y_out* (n, digits+2) answer + end (its target), both
right-padded with 0. Example::

    >>> data = make_addition(100, 20, seed=0)
    >>> data.train_questions[0], data.train_answers[0]
    ('81+626', '707')
    >>> decode(data.y_out_train[0])
    '707'
"""
import numpy as np

from chainrule.datasets.heart_disease import Bunch
from chainrule.errors import ConfigError, DataError

SYMBOLS = "0123456789+"
PAD, START, END = 0, 12, 13
VOCAB_SIZE = 14
_ID = {c: i + 1 for i, c in enumerate(SYMBOLS)}


def question_length(digits):
    """The longest question: ``digits`` + '+' + ``digits`` characters (7 for 3 digits)."""
    return 2 * digits + 1


def answer_length(digits):
    """The longest answer: digits + 1 characters (a carry), plus the start or end symbol."""
    return digits + 2


def encode_questions(questions, digits=3):
    """Questions (strings of digits and one '+') → (n, 2·digits+1) int64 ids.

    Each number is right-aligned in a field of *digits* characters, padded with 0 on the left,
    as numbers are written in columns to be added on paper: ``"535+61"`` → 5 3 5 + _ 6 1.
    Anything else (letters, a missing or second '+', a number with more than *digits* digits)
    raises a DataError naming the question.
    """
    out = np.zeros((len(questions), question_length(digits)), dtype=np.int64)
    for i, q in enumerate(questions):
        q = str(q).strip().replace(" ", "")
        parts = q.split("+")
        if len(parts) != 2 or not all(p.isdigit() and p.isascii() for p in parts):
            raise DataError(f"question {i} {q!r}: expected two numbers joined by '+', such as "
                            f"'535+61'")
        if any(len(p) > digits for p in parts):
            raise DataError(f"question {i} {q!r}: each number may have at most {digits} digits")
        a, b = parts
        out[i, digits - len(a):digits] = [_ID[c] for c in a]
        out[i, digits] = _ID["+"]
        out[i, 2 * digits + 1 - len(b):] = [_ID[c] for c in b]
    return out


def encode_answers(answers, digits=3, reverse=False):
    """Answers → (y_in, y_out): start + answer and answer + end, right-padded with 0.

    With *reverse* the digits are written least significant first (``"596"`` as 6, 9, 5), the
    order in which a carry travels, as when adding on paper.
    """
    width = answer_length(digits)
    y_in = np.zeros((len(answers), width), dtype=np.int64)
    y_out = np.zeros((len(answers), width), dtype=np.int64)
    for i, a in enumerate(answers):
        ids = [_ID[c] for c in (str(a)[::-1] if reverse else str(a))]
        if len(ids) > digits + 1:
            raise DataError(f"answer {i} {a!r}: longer than {digits + 1} digits")
        y_in[i, :len(ids) + 1] = [START] + ids
        y_out[i, :len(ids) + 1] = ids + [END]
    return y_in, y_out


def decode(ids, reverse=False):
    """The characters of a row of ids up to the first end (or pad) symbol; start is skipped.
    With *reverse*, the ids hold an answer written least significant digit first."""
    out = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if i in (END, PAD):
            break
        if 1 <= i <= len(SYMBOLS):
            out.append(SYMBOLS[i - 1])
    text = "".join(out)
    return text[::-1] if reverse else text


def _operand(rng, digits):
    n = int(rng.integers(1, digits + 1))
    return int(rng.integers(0, 10 ** n))


def make_addition(n_train=50000, n_test=2000, digits=3, seed=0, reverse_answers=False):
    """Seeded, distinct addition questions; test questions never appear in the training set.

    Returns a Bunch with train_questions, train_answers, test_questions, test_answers (strings)
    and the encoded x_train, y_in_train, y_out_train, x_test, y_in_test, y_out_test, digits
    (the encoded answers least significant digit first with *reverse_answers*).
    """
    for name, v in (("n_train", n_train), ("n_test", n_test), ("digits", digits)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ConfigError(f"make_addition: {name} must be a non-negative int, got {v!r}")
    if digits < 1:
        raise ConfigError(f"make_addition: digits must be at least 1, got {digits}")
    distinct = sum(10 ** n for n in range(1, digits + 1)) ** 2
    if n_train + n_test > 0.5 * distinct:
        raise ConfigError(f"make_addition: {n_train + n_test} distinct questions asked for, but "
                          f"operands of up to {digits} digits make only about {distinct}; ask "
                          f"for fewer")
    rng = np.random.default_rng(seed)
    seen, questions, answers = set(), [], []
    while len(questions) < n_train + n_test:
        a, b = _operand(rng, digits), _operand(rng, digits)
        q = f"{a}+{b}"
        if q in seen:
            continue
        seen.add(q)
        questions.append(q)
        answers.append(str(a + b))
    order = rng.permutation(len(questions))
    questions = [questions[i] for i in order]
    answers = [answers[i] for i in order]
    out = Bunch(digits=digits, reverse_answers=bool(reverse_answers),
                train_questions=questions[:n_train],
                train_answers=answers[:n_train], test_questions=questions[n_train:],
                test_answers=answers[n_train:])
    for part in ("train", "test"):
        qs, ans = getattr(out, f"{part}_questions"), getattr(out, f"{part}_answers")
        x = encode_questions(qs, digits)
        y_in, y_out = encode_answers(ans, digits, reverse_answers)
        setattr(out, f"x_{part}", x)
        setattr(out, f"y_in_{part}", y_in)
        setattr(out, f"y_out_{part}", y_out)
    return out
