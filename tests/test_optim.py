"""bntune.optim: each optimizer against its documented formula, written out here in float64,
over 100 steps; live hyperparameter changes; exact state round-trips; schedules."""

import copy
import math
import pickle

import numpy as np
import pytest

from bntune import nn, optim

STEPS = 100
SHAPES = [(3, 4), (4,)]


def make_params(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [nn.Parameter(rng.standard_normal(shape).astype(dtype)) for shape in SHAPES]


def gradient_sequence(seed=1, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(steps)]


def run(optimizer, params, grads, changes=None):
    """Feeds ``grads`` to ``optimizer``; ``changes`` maps a step index to hyperparameter edits
    applied just before that step."""
    for t, step_grads in enumerate(grads):
        for name, value in (changes or {}).get(t, {}).items():
            setattr(optimizer, name, value)
        for p, g in zip(params, step_grads, strict=True):
            p.grad[...] = g
        optimizer.step()
    return [p.value.copy() for p in params]


def reference(update, grads, init, hyper, changes=None):
    """Runs a per-parameter reference update ``update(w, g, state, hyper, t)`` in float64."""
    weights = [w.astype(np.float64).copy() for w in init]
    states = [{} for _ in weights]
    hyper = dict(hyper)
    for t, step_grads in enumerate(grads, start=1):
        hyper.update((changes or {}).get(t - 1, {}))
        for i, g in enumerate(step_grads):
            g = g + hyper.get("weight_decay", 0.0) * weights[i]
            weights[i] = update(weights[i], g, states[i], hyper, t)
    return weights


def sgd_ref(w, g, s, h, t):
    return w - h["lr"] * g


def momentum_ref(w, g, s, h, t):
    s["v"] = h["beta"] * s.get("v", 0.0) + (1 - h["beta"]) * g
    return w - h["lr"] * s["v"]


def nesterov_ref(w, g, s, h, t):
    s["v"] = h["beta"] * s.get("v", 0.0) + (1 - h["beta"]) * g
    return w - h["lr"] * (h["beta"] * s["v"] + (1 - h["beta"]) * g)


def rmsprop_ref(w, g, s, h, t):
    s["s"] = h["beta"] * s.get("s", 0.0) + (1 - h["beta"]) * g**2
    return w - h["lr"] * g / (np.sqrt(s["s"]) + h["eps"])


def adam_ref(w, g, s, h, t):
    s["m"] = h["beta1"] * s.get("m", 0.0) + (1 - h["beta1"]) * g
    s["v"] = h["beta2"] * s.get("v", 0.0) + (1 - h["beta2"]) * g**2
    m_hat = s["m"] / (1 - h["beta1"] ** t)
    v_hat = s["v"] / (1 - h["beta2"] ** t)
    return w - h["lr"] * m_hat / (np.sqrt(v_hat) + h["eps"])


CASES = {
    "SGD": (optim.SGD, {"lr": 0.05}, sgd_ref),
    "Momentum": (optim.Momentum, {"lr": 0.05, "beta": 0.9}, momentum_ref),
    "Nesterov": (optim.Nesterov, {"lr": 0.05, "beta": 0.8}, nesterov_ref),
    "RMSprop": (optim.RMSprop, {"lr": 0.01, "beta": 0.99, "eps": 1e-8}, rmsprop_ref),
    "Adam": (optim.Adam, {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}, adam_ref),
}


def assert_matches(actual, expected, rtol=1e-6):
    for a, e in zip(actual, expected, strict=True):
        scale = max(np.max(np.abs(e)), 1.0)
        assert np.max(np.abs(a - e)) / scale <= rtol


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_optimizer_matches_its_formula_over_100_steps(name, weight_decay):
    cls, hyper, update = CASES[name]
    params = make_params()
    init = [p.value.copy() for p in params]
    grads = gradient_sequence()
    opt = cls(params, **hyper, weight_decay=weight_decay)
    actual = run(opt, params, grads)
    expected = reference(update, grads, init, {**hyper, "weight_decay": weight_decay})
    assert_matches(actual, expected)
    assert opt.steps == STEPS
    # The run moved far from the start, so the comparison above is not trivially satisfied.
    assert max(np.max(np.abs(a - w)) for a, w in zip(actual, init, strict=True)) > 0.05


@pytest.mark.parametrize("name", CASES)
def test_float32_parameters_follow_the_formula_to_float32_precision(name):
    cls, hyper, update = CASES[name]
    params = make_params(np.float32)
    init = [p.value.copy() for p in params]
    grads = [[g.astype(np.float32) for g in step] for step in gradient_sequence()]
    actual = run(cls(params, **hyper), params, grads)
    assert all(a.dtype == np.float32 for a in actual)
    assert_matches(actual, reference(update, grads, init, hyper), rtol=1e-4)


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("SGD", {30: {"lr": 0.2}, 60: {"lr": 0.01}}),
        ("Momentum", {30: {"lr": 0.2, "beta": 0.5}, 70: {"beta": 0.99}}),
        ("Nesterov", {50: {"beta": 0.95, "lr": 0.01}}),
        ("RMSprop", {40: {"lr": 0.001, "beta": 0.9}}),
        ("Adam", {20: {"lr": 0.05}, 50: {"lr": 0.001}}),
    ],
)
def test_hyperparameters_change_between_steps(name, changes):
    cls, hyper, update = CASES[name]
    params = make_params()
    init = [p.value.copy() for p in params]
    grads = gradient_sequence()
    actual = run(cls(params, **hyper), params, grads, changes)
    assert_matches(actual, reference(update, grads, init, hyper, changes))


def test_adam_bias_correction_uses_the_betas_actually_applied():
    params = make_params()
    init = [p.value.copy() for p in params]
    grads = gradient_sequence()
    opt = optim.Adam(params, lr=0.01)
    actual = run(opt, params, grads, {50: {"beta1": 0.5, "beta2": 0.9}})

    weights = [w.copy() for w in init]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    power1 = power2 = 1.0
    for t, step in enumerate(grads):
        b1, b2 = (0.9, 0.999) if t < 50 else (0.5, 0.9)
        power1 *= b1
        power2 *= b2
        for i, g in enumerate(step):
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            weights[i] = weights[i] - 0.01 * (m[i] / (1 - power1)) / (
                np.sqrt(v[i] / (1 - power2)) + 1e-8
            )
    assert_matches(actual, weights)


def test_adam_first_step_moves_each_weight_by_lr():
    # With bias correction, step 1 is lr * g / (|g| + eps): each weight moves by almost lr.
    params = make_params()
    before = [p.value.copy() for p in params]
    for p in params:
        p.grad[...] = np.linspace(-3, 3, p.value.size).reshape(p.value.shape) + 0.1
    optim.Adam(params, lr=0.01).step()
    for p, w in zip(params, before, strict=True):
        np.testing.assert_allclose(np.abs(p.value - w), 0.01, rtol=1e-6)


@pytest.mark.parametrize("name", CASES)
def test_state_dict_round_trip_continues_exactly(name):
    cls, hyper, _ = CASES[name]
    grads = gradient_sequence()
    straight_params = make_params()
    straight = run(cls(straight_params, **hyper), straight_params, grads)

    params = make_params()
    first = cls(params, **hyper)
    run(first, params, grads[:40])
    state = first.state_dict()
    saved_values = [p.value.copy() for p in params]
    run(first, params, grads[40:45])  # mutating the optimizer must not touch the saved state

    resumed_params = make_params()
    for p, value in zip(resumed_params, saved_values, strict=True):
        p.value[...] = value
    resumed = cls(resumed_params, lr=0.123)
    resumed.load_state_dict(state)
    assert resumed.hyperparameters == first.hyperparameters
    assert resumed.steps == 40
    for a, b in zip(run(resumed, resumed_params, grads[40:]), straight, strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_rejects_mismatches():
    params = make_params()
    adam = optim.Adam(params)
    with pytest.raises(ValueError, match="Adam"):
        optim.SGD(params, lr=0.1).load_state_dict(adam.state_dict())
    with pytest.raises(ValueError, match="state for 2 parameters"):
        optim.Adam(params[:1]).load_state_dict(adam.state_dict())
    other = [nn.Parameter(np.zeros((4, 3))), nn.Parameter(np.zeros(4))]
    with pytest.raises(ValueError, match="shape"):
        optim.Adam(other).load_state_dict(adam.state_dict())


def test_optimizers_accept_a_model_and_validate_arguments():
    model = nn.mlp(4, 2, hidden=3, layers=1)
    opt = optim.Momentum(model, lr=0.1)
    assert len(opt.params) == len(model.parameters()) == 5  # W, gamma, beta, W, b
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\]"):
        optim.SGD([np.zeros(3)], lr=0.1)
    p = nn.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(model.parameters(), lr=-1.0)
    with pytest.raises(ValueError, match="beta"):
        optim.Momentum(model.parameters(), lr=0.1, beta=1.0)
    opt = optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="beta2"):
        opt.beta2 = 1.5
    with pytest.raises(TypeError, match="lr"):
        opt.lr = "fast"


def test_documented_defaults():
    params = make_params()
    assert optim.Adam(params).hyperparameters == {
        "lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
    }  # fmt: skip
    assert optim.Momentum(params, lr=0.1).beta == 0.9
    assert optim.Nesterov(params, lr=0.1).beta == 0.9
    rms = optim.RMSprop(params, lr=0.1)
    assert (rms.beta, rms.eps) == (0.99, 1e-8)


def test_zero_grad_clears_every_parameter():
    params = make_params()
    for p in params:
        p.grad[...] = 1.0
    optim.SGD(params, lr=0.1).zero_grad()
    assert all(not p.grad.any() for p in params)


# --- schedules ----------------------------------------------------------------------------------


def test_schedule_formulas():
    epochs = range(1, 13)
    exp = optim.ExponentialDecay(0.95, lr0=0.2)
    assert [exp.lr_at(e) for e in epochs] == pytest.approx([0.2 * 0.95**e for e in epochs])
    inv = optim.InverseTimeDecay(1.0, lr0=0.2)
    assert [inv.lr_at(e) for e in epochs] == pytest.approx([0.2 / (1 + e) for e in epochs])
    step = optim.StepDecay(5, 0.1, lr0=0.2)
    assert [step.lr_at(e) for e in epochs] == pytest.approx([0.2] * 5 + [0.02] * 5 + [0.002] * 2)
    sqrt = optim.InverseSqrtDecay(0.3)
    assert [sqrt.lr_at(e) for e in epochs] == pytest.approx([0.3 / math.sqrt(e) for e in epochs])


def test_schedule_takes_lr0_from_the_optimizer_and_sets_lr():
    opt = optim.SGD(make_params(), lr=0.4)
    schedule = optim.InverseTimeDecay(0.5)
    assert schedule.apply(opt, 1) == pytest.approx(0.4 / 1.5)
    assert opt.lr == pytest.approx(0.4 / 1.5)
    schedule.apply(opt, 3)
    assert opt.lr == pytest.approx(0.4 / 2.5)  # still from lr0, not from the decayed rate
    with pytest.raises(ValueError, match="epoch counts from 1"):
        schedule.lr_at(0)
    with pytest.raises(ValueError, match="lr0 is not set"):
        optim.ExponentialDecay(0.9).lr_at(1)
    with pytest.raises(ValueError, match="rate"):
        optim.ExponentialDecay(-0.9)


# --- torch, when installed (the formulas that are torch's) --------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda p: optim.SGD(p, lr=0.05, weight_decay=0.01),
         lambda t, p: t.optim.SGD(p, lr=0.05, weight_decay=0.01)),
        (lambda p: optim.RMSprop(p, lr=0.01, beta=0.99, eps=1e-8),
         lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8)),
        (lambda p: optim.Adam(p, lr=0.01, weight_decay=0.01),
         lambda t, p: t.optim.Adam(p, lr=0.01, weight_decay=0.01)),
    ],
)  # fmt: skip
def test_matches_torch_optim(ours, theirs):
    torch = pytest.importorskip("torch")
    params = make_params()
    torch_params = [torch.tensor(p.value.copy(), requires_grad=True) for p in params]
    mine, reference_opt = ours(params), theirs(torch, torch_params)
    for step in gradient_sequence():
        for p, tp, g in zip(params, torch_params, step, strict=True):
            p.grad[...] = g
            tp.grad = torch.tensor(g)
        mine.step()
        reference_opt.step()
    assert_matches([p.value for p in params], [tp.detach().numpy() for tp in torch_params])


@pytest.mark.parametrize("name", CASES)
def test_pickled_and_deep_copied_optimizers_continue_exactly(name):
    cls, hyper, _ = CASES[name]
    grads = gradient_sequence()
    params = make_params()
    opt = cls(params, **hyper)
    run(opt, params, grads[:30])
    for clone in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        run(clone, clone.params, grads[30:])
        cloned_values = [p.value.copy() for p in clone.params]
        state = clone.state_dict()
        fresh = [nn.Parameter(v.copy()) for v in cloned_values]
        reloaded = cls(fresh, **hyper)
        reloaded.load_state_dict(state)
        assert reloaded.steps == STEPS
    run(opt, params, grads[30:])
    for a, b in zip(params, cloned_values, strict=True):
        np.testing.assert_array_equal(a.value, b)
    for key in cls.buffers:
        for mine, theirs in zip(opt.state, state["state"], strict=True):
            np.testing.assert_array_equal(mine[key], theirs[key])
