"""Every op of the table on the "cuda" device played by the CPU stand-in for CuPy: values and
gradients equal the CPU's, and nothing is converted to NumPy behind the array's back."""
import pytest

from chainrule.backend import cuda as cuda_backend

from .device_parity import check_case
from .op_table import CASE_IDS, CASES


@pytest.fixture(scope="module")
def standin():
    with cuda_backend.use_standin() as ns:
        yield ns


@pytest.mark.parametrize("op, sample", CASES, ids=CASE_IDS)
def test_op_on_the_device_equals_the_cpu(standin, op, sample):
    check_case(op, sample, "cuda")
