"""Chunk execution: temporal ensembling and open-loop queues on hand-made chunks."""

import numpy as np
import pytest

from amplify_ros.control.chunking import OpenLoopChunks, TemporalEnsembler


def test_temporal_ensembling_matches_hand_computed_weights():
    ens = TemporalEnsembler(chunk=3, k=0.5)
    ens.push(np.array([[0.0], [10.0], [20.0]]))
    assert ens.next_action() == pytest.approx([0.0])
    ens.push(np.array([[100.0], [110.0], [120.0]]))
    # step 1: chunk 0 says 10 (oldest, weight 1), chunk 1 says 100 (weight e^-0.5)
    w = np.exp(-0.5)
    assert ens.next_action() == pytest.approx([(10 + w * 100) / (1 + w)])
    ens.push(np.array([[200.0], [210.0], [220.0]]))
    # step 2: 20 (w 1), 110 (w e^-.5), 200 (w e^-1)
    expected = (20 + w * 110 + np.exp(-1) * 200) / (1 + w + np.exp(-1))
    assert ens.next_action() == pytest.approx([expected])
    ens.push(np.array([[300.0], [310.0], [320.0]]))
    # step 3: chunk 0 has expired; 120 (w 1), 210 (w e^-.5), 300 (w e^-1)
    assert ens.next_action() == pytest.approx([(120 + w * 210 + np.exp(-1) * 300) / (1 + w + np.exp(-1))])


def test_open_loop_executes_then_asks_again():
    ol = OpenLoopChunks(chunk=4, execute=2)
    assert ol.needs_chunk
    ol.push(np.arange(8.0).reshape(4, 2))
    assert list(ol.next_action()) == [0, 1] and not ol.needs_chunk
    assert list(ol.next_action()) == [2, 3] and ol.needs_chunk
    with pytest.raises(RuntimeError):
        ol.next_action()


def test_ensembler_without_a_chunk_refuses():
    with pytest.raises(RuntimeError, match="push one first"):
        TemporalEnsembler(4).next_action()
