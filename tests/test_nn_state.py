"""state_dict / load_state_dict and nn.save / nn.load: complete and exact round-trips."""

import json
import pickle
import zipfile

import numpy as np
import pytest

import bntune
from bntune import nn
from nn_helpers import HAVE_BN_KERNELS, needs_bn


def randomise(model, seed):
    """Gives every parameter and buffer distinctive values, as training would."""
    rng = np.random.default_rng(seed)
    state = model.state_dict()
    model.load_state_dict(
        {
            key: rng.uniform(0.5, 2.0, value.shape).astype(value.dtype)
            for key, value in state.items()
        }
    )
    return model


def test_state_dict_names_every_weight_and_running_statistic():
    model = nn.mlp(6, 3, hidden=5, layers=2)
    state = model.state_dict()
    assert sorted(state) == sorted([
        "0.weight", "1.gamma", "1.beta", "1.running_mean", "1.running_var",
        "3.weight", "4.gamma", "4.beta", "4.running_mean", "4.running_var",
        "6.weight", "6.bias",
    ])  # fmt: skip
    np.testing.assert_array_equal(state["1.running_var"], np.ones(5))
    # The state holds copies: changing the model afterwards leaves it alone.
    model[0].weight.value[...] = 7.0
    assert not np.any(state["0.weight"] == 7.0)


def test_load_state_dict_restores_exactly_and_in_place():
    source = randomise(nn.mlp(6, 3, hidden=5, layers=2, dtype=np.float64), 1)
    target = nn.mlp(6, 3, hidden=5, layers=2, dtype=np.float64, seed=9)
    weight_array = target[0].weight.value
    target.load_state_dict(source.state_dict())
    for key, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[key], value)
    assert target[0].weight.value is weight_array  # optimizers keep valid references


def test_load_state_dict_rejects_mismatches():
    model = nn.mlp(6, 3, hidden=5, layers=1)
    state = model.state_dict()
    with pytest.raises(KeyError, match=r"missing keys \['0.weight'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "0.weight"})
    with pytest.raises(KeyError, match="unexpected keys"):
        model.load_state_dict({**state, "9.weight": np.zeros(1)})
    with pytest.raises(bntune.ShapeError, match=r"0.weight.*\(5, 6\)"):
        model.load_state_dict({**state, "0.weight": np.zeros((5, 6), dtype=np.float32)})
    with pytest.raises(bntune.DtypeError, match="float64"):
        model.load_state_dict({**state, "0.weight": state["0.weight"].astype(np.float64)})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_round_trips_architecture_and_every_array(tmp_path, dtype):
    model = nn.Sequential(
        nn.Dense(6, 5, bias=False, dtype=dtype, init="xavier"),
        nn.BatchNorm(5, momentum=0.3, eps=1e-3, dtype=dtype),
        nn.LeakyReLU(0.2),
        nn.Dense(5, 4, dtype=dtype),
        nn.Tanh(),
        nn.Dense(4, 4, dtype=dtype),
        nn.Sigmoid(),
        nn.Dense(4, 2, dtype=dtype),
        nn.ReLU(),
    )
    randomise(model, 2).eval()
    path = tmp_path / "model.npz"
    nn.save(model, path)
    loaded = nn.load(path)
    assert loaded.describe() == model.describe()
    assert loaded.config() == model.config()
    assert loaded.training is False
    assert loaded[1].momentum == 0.3
    assert loaded[1].eps == 1e-3
    assert loaded[2].negative_slope == 0.2
    saved, restored = model.state_dict(), loaded.state_dict()
    assert saved.keys() == restored.keys()
    for key in saved:
        assert restored[key].dtype == saved[key].dtype
        np.testing.assert_array_equal(restored[key], saved[key])


def test_saved_file_is_npz_with_json_and_no_pickle(tmp_path):
    path = tmp_path / "checkpoint.bin"  # the path is used exactly as given
    nn.save(nn.mlp(4, 2, hidden=3, layers=1), path)
    assert path.exists()
    assert not (tmp_path / "checkpoint.bin.npz").exists()
    with zipfile.ZipFile(path) as archive:
        header = json.loads(np.load(archive.open("__bntune__.json.npy")).tobytes())
    assert header["format"] == "bntune.nn"
    assert [layer["type"] for layer in header["model"]["layers"]] == [
        "Dense", "BatchNorm", "ReLU", "Dense",
    ]  # fmt: skip
    with np.load(path, allow_pickle=False) as archive:  # nothing in it needs pickle
        assert all(archive[name].dtype != object for name in archive.files)


def test_load_rejects_foreign_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a bntune model file"):
        nn.load(path)


def test_save_rejects_non_models(tmp_path):
    with pytest.raises(TypeError, match="Module"):
        nn.save({"weight": np.zeros(3)}, tmp_path / "x.npz")


@needs_bn
def test_loaded_model_computes_the_same_outputs(tmp_path):
    rng = np.random.default_rng(3)
    model = randomise(nn.mlp(6, 3, hidden=5, layers=2), 4)
    x = rng.standard_normal((7, 6)).astype(np.float32)
    nn.save(model.eval(), tmp_path / "m.npz")
    np.testing.assert_array_equal(nn.load(tmp_path / "m.npz").forward(x), model.forward(x))


@needs_bn
def test_train_and_eval_switch_every_layer_and_batch_norm_statistics():
    rng = np.random.default_rng(5)
    model = nn.mlp(4, 2, hidden=3, layers=2, dtype=np.float64, seed=0)
    x = rng.standard_normal((16, 4)) + 3
    model.eval()
    assert all(not layer.training for layer in model)
    model.forward(x)
    np.testing.assert_array_equal(model[1].running_mean, 0)  # eval never updates them
    model.train()
    assert all(layer.training for layer in model)
    model.forward(x)
    assert np.all(model[1].running_mean != 0)
    # Inference with the statistics gives the same answer for a sample alone or in a batch.
    model.eval()
    batch = model.forward(x)
    np.testing.assert_allclose(model.forward(x[:1]), batch[:1], rtol=1e-12)


def test_load_rejects_a_corrupted_architecture(tmp_path):
    path = tmp_path / "m.npz"
    nn.save(nn.Dense(3, 2), path)
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    header = json.loads(arrays["__bntune__.json"].tobytes())
    header["model"]["units"] = 5
    arrays["__bntune__.json"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="Dense with bad arguments"):
        nn.load(path)
    header["model"] = {"type": "Conv2d"}
    arrays["__bntune__.json"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match="unknown layer type 'Conv2d'"):
        nn.load(path)


def test_pickled_model_keeps_its_state_but_not_its_last_batch():
    rng = np.random.default_rng(6)
    model = randomise(nn.mlp(6, 3, hidden=5, layers=2, batch_norm=HAVE_BN_KERNELS), 7)
    x = rng.standard_normal((64, 6)).astype(np.float32)
    model.forward(x)
    clone = pickle.loads(pickle.dumps(model))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(clone.state_dict()[key], value)
    assert clone[0]._x is None
    assert model[0]._x is x  # the original keeps what its backward needs
    with pytest.raises(RuntimeError, match="before forward"):
        clone.backward(np.zeros((64, 3), dtype=np.float32))
    model.eval()
    np.testing.assert_array_equal(clone.eval().forward(x), model.forward(x))


def test_nested_sequential_round_trips(tmp_path):
    inner = nn.Sequential(nn.Dense(4, 3, dtype=np.float64), nn.Tanh())
    model = randomise(nn.Sequential(inner, nn.Dense(3, 2, dtype=np.float64)), 8)
    assert sorted(model.state_dict()) == ["0.0.bias", "0.0.weight", "1.bias", "1.weight"]
    nn.save(model, tmp_path / "nested.npz")
    loaded = nn.load(tmp_path / "nested.npz")
    assert isinstance(loaded[0], nn.Sequential)
    x = np.random.default_rng(9).standard_normal((5, 4))
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
