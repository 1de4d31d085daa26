"""FSQ: straight-through gradient, code <-> index round trip, every code reachable."""

import torch

from amplify_ros.core.fsq import FSQ

LEVELS = [8, 8, 6, 5]


def test_codes_are_on_the_grid_and_indices_cover_the_codebook():
    fsq = FSQ(LEVELS)
    assert fsq.codebook_size == 1920 and fsq.dim == 4
    codes, idx = fsq(torch.randn(10_000, 4) * 3)
    for c, level in enumerate(LEVELS):
        values = torch.unique(codes[:, c])
        assert len(values) <= level and values.min() >= -1 and values.max() <= 1
    assert idx.min() >= 0 and idx.max() < 1920


def test_index_round_trip_for_every_code():
    fsq = FSQ(LEVELS)
    all_idx = torch.arange(fsq.codebook_size)
    codes = fsq.indices_to_codes(all_idx)
    assert torch.equal(fsq.codes_to_indices(codes), all_idx)
    assert len(torch.unique(codes, dim=0)) == 1920


def test_the_zero_index_is_the_all_zero_code():
    for levels in (LEVELS, [4, 4], [5, 3]):
        fsq = FSQ(levels)
        assert torch.equal(fsq.indices_to_codes(torch.tensor(fsq.zero_index)), torch.zeros(len(levels)))


def test_every_code_is_reachable_from_some_input():
    fsq = FSQ(LEVELS)
    codes = fsq.indices_to_codes(torch.arange(fsq.codebook_size))
    # invert the bound: the input that lands exactly on each level
    bounded = codes * fsq._width
    z = torch.atanh((bounded + fsq._offset) / fsq._half) - fsq._shift
    out, idx = fsq(z)
    assert torch.equal(idx, torch.arange(fsq.codebook_size))


def test_straight_through_gradient_is_the_gradient_of_the_bound():
    fsq = FSQ([5, 4])
    z = torch.randn(64, 2, requires_grad=True)
    codes, _ = fsq(z)
    codes.sum().backward()
    expected = (1 - torch.tanh(z.detach() + fsq._shift) ** 2) * fsq._half / fsq._width
    assert torch.allclose(z.grad, expected, atol=1e-6)
    assert (z.grad > 0).all()
