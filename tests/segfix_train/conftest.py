import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """The trainer tests are small; one thread avoids oversubscribing the shared CI cores."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
