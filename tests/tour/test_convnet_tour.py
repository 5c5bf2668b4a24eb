"""The convnet step of the tour: its filters, feature maps and saliency map are what they claim
(the first convolution's weights, relu(w ⋆ x + b), the backprop gradient of the predicted score
checked by finite differences), and it writes its PNG."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import load_digits
from chainrule.tour import convnet
from chainrule.training.digits import DigitsNet


@pytest.fixture(scope="module")
def model():
    cr.manual_seed(0)
    return DigitsNet()


def test_filters_and_feature_maps_are_the_first_layer(model):
    w = convnet.filters(model)
    assert w.shape == (16, 3, 3)
    np.testing.assert_array_equal(w, model.features[0].weight.detach().numpy()[:, 0])
    pixels = load_digits().data[0]
    maps = convnet.feature_maps(model, pixels)
    x = np.pad(pixels.reshape(8, 8) / 16.0, 1)
    b = model.features[0].bias.detach().numpy()
    ref = np.zeros((16, 8, 8))
    for i in range(3):
        for j in range(3):
            ref += w[:, i, j, None, None] * x[None, i:i + 8, j:j + 8]
    np.testing.assert_allclose(maps, np.maximum(ref + b[:, None, None], 0), rtol=1e-5, atol=1e-5)


def test_saliency_is_the_gradient_of_the_predicted_score(model):
    pixels = load_digits().data[5].astype(np.float64)
    grad, c, prob = convnet.saliency(model, pixels)
    assert grad.shape == (8, 8) and prob.argmax() == c and abs(prob.sum() - 1) < 1e-6
    model64 = DigitsNet()
    model64.load_state_dict(model.state_dict())
    model64.to(cr.float64).eval()

    def score(p):
        with cr.no_grad():
            return model64(cr.tensor(p.reshape(1, 1, 8, 8) / 16.0)).numpy()[0, c]
    for r, q in ((2, 3), (4, 4), (6, 1)):
        e = np.zeros(64)
        e[r * 8 + q] = 1e-3
        fd = (score(pixels + e) - score(pixels - e)) / 2e-3
        assert abs(fd - grad[r, q]) < 1e-3 * max(1.0, abs(fd)), (r, q, fd, grad[r, q])


def test_step_writes_its_png(model, tmp_path):
    pytest.importorskip("matplotlib")
    path = convnet.make(str(tmp_path), model=model, index=3)
    assert path.endswith(convnet.FILENAME)
    data = (tmp_path / convnet.FILENAME).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert convnet.__doc__.startswith("Step 15 ") and convnet.TITLE
