"""Tokenizer, forward model and track baseline on tiny shapes: shapes, learning, masking."""

import pytest
import torch
from tiny import TINY_FORWARD, TINY_TOKENIZER

from amplify_ros.core.forward_model import ForwardConfig, ForwardModel
from amplify_ros.core.tokenizer import MotionTokenizer, TokenizerConfig, displacement_steps, steps_to_tracks
from amplify_ros.core.track_baseline import TrackBaseline, TrackBaselineConfig

B, V, S, N, SIZE = 4, 2, 6, 10, 32


def tracks_moving(speed_px=1.0):
    """Points drifting right at ``speed_px`` pixels per step (a float, or one per sample)."""
    start = torch.rand(B, V, N, 2) * 1.6 - 0.8
    speed = torch.as_tensor(speed_px, dtype=torch.float32).reshape(-1, 1, 1, 1, 1) * (2 / SIZE)
    steps = torch.arange(S).view(1, 1, S, 1, 1) * torch.tensor([0.0, 1.0]) * speed
    return start.unsqueeze(2) + steps


@pytest.mark.parametrize("class_px", [1.0, 0.5])
def test_displacement_steps_round_trip_within_half_a_class(class_px):
    steps = torch.randn(B, V, S, N, 2) * 0.05  # ~0.8 px per step, well inside the +-7 px window
    steps[:, :, 0] = 0
    tracks = (torch.rand(B, V, 1, N, 2) - 0.5) + torch.cumsum(steps, dim=2)
    classes = displacement_steps(tracks, SIZE, class_px, 29 if class_px < 1 else 15)
    back = steps_to_tracks(classes, tracks[:, :, 0], SIZE, class_px)
    err_px = (back - tracks).abs() * SIZE / 2
    assert err_px.max() <= class_px / 2 + 1e-5  # nothing is clipped here


def test_expected_decoding_keeps_motion_below_one_class():
    model = MotionTokenizer(
        TokenizerConfig(image_size=SIZE, views=1, num_points=1, horizon=2, factorised=True, **TINY_TOKENIZER)
    )
    p = torch.zeros(2, 15)
    p[0, 7], p[0, 8] = 0.6, 0.4  # rows: "stay" 60 %, "+1 class" 40 %
    p[1, 7] = 1.0  # columns: stay
    logits = p.clamp_min(1e-9).log().reshape(1, 30)
    assert torch.allclose(model.logits_to_steps(logits, "expected"), torch.tensor([[0.4, 0.0]]), atol=1e-5)
    assert torch.equal(model.logits_to_steps(logits, "argmax"), torch.tensor([[0.0, 0.0]]))
    joint = MotionTokenizer(TokenizerConfig(image_size=SIZE, views=1, num_points=1, horizon=2, **TINY_TOKENIZER))
    assert torch.allclose(
        joint.logits_to_steps(torch.outer(p[0], p[1]).clamp_min(1e-9).log().reshape(1, 225), "expected"),
        torch.tensor([[0.4, 0.0]]),
        atol=1e-5,
    )  # the joint classes' marginals


def test_training_points_take_the_moving_tracks_first():
    cfg = TokenizerConfig(
        image_size=SIZE, views=V, num_points=N, horizon=S, train_points=4, moving_share=0.5, **TINY_TOKENIZER
    )
    model = MotionTokenizer(cfg)
    steps = torch.zeros(B, V, S - 1, N, 2, dtype=torch.long)
    steps[:, 1, 2, 3, 0] = 1  # point 3 moves once, in the second view
    steps[:, 0, :, 7, 1] = -2  # point 7 moves all along
    for _ in range(5):
        points = model._training_points(steps)
        assert points.shape == (B, 4)
        assert all(set(row[:2].tolist()) == {3, 7} and len(set(row.tolist())) == 4 for row in points)


def test_image_conditioned_tokenizer_learns_which_points_the_image_says_move():
    """Half of the points move in each sample, a different half per sample, and the image is
    bright exactly where they are; the decoder needs the image (or codes) to tell which."""
    torch.manual_seed(0)
    cfg = TokenizerConfig(
        image_size=SIZE,
        views=1,
        num_points=N,
        horizon=S,
        factorised=True,
        image_cond=True,
        image_channels=8,
        **TINY_TOKENIZER,
    )
    model = MotionTokenizer(cfg)
    start = torch.stack(torch.meshgrid(torch.linspace(-0.8, 0.8, 2), torch.linspace(-0.8, 0.8, 5), indexing="ij"), -1)
    start = start.reshape(1, 1, N, 2).expand(B, 1, N, 2)
    moves = torch.zeros(B, N, dtype=torch.bool)
    moves[0, :5], moves[1, 5:], moves[2, ::2], moves[3, 1::2] = True, True, True, True
    speed = torch.arange(S).view(1, 1, S, 1) * (2 * 2 / SIZE) * moves.view(B, 1, 1, N)  # 2 px per step
    tracks = start.unsqueeze(2) + torch.stack([torch.zeros_like(speed), speed], dim=-1)
    images = torch.zeros(B, 1, SIZE, SIZE, 3, dtype=torch.uint8)
    pix = ((start[0, 0] + 1) * SIZE / 2).long()
    for b in range(B):
        for n in torch.nonzero(moves[b]).flatten().tolist():
            images[b, 0, pix[n, 0] - 2 : pix[n, 0] + 2, pix[n, 1] - 2 : pix[n, 1] + 2] = 255
    with pytest.raises(ValueError, match="image"):
        model.reconstruct(tracks)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(200):
        loss, _ = model(tracks, images)
        opt.zero_grad()
        loss.backward()
        opt.step()
    recon = model.eval().reconstruct(tracks, images)
    assert ((recon - tracks).abs() * SIZE / 2 < 0.5).float().mean() > 0.9


def test_tokenizer_shapes_and_learning_on_a_fixed_batch():
    torch.manual_seed(0)
    cfg = TokenizerConfig(image_size=SIZE, views=V, num_points=N, horizon=S, **TINY_TOKENIZER)
    model = MotionTokenizer(cfg)
    tracks = tracks_moving([0.0, 1.0, 2.0, 3.0])  # only the codes can tell the decoder which
    codes, idx = model.encode(tracks)
    assert codes.shape == (B, S - 1, 2) and idx.shape == (B, S - 1)
    assert model.decode_logits(codes).shape == (B, V, S - 1, N, 225)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = model(tracks)[0].item()
    for _ in range(250):
        loss, _ = model(tracks)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.3 * first
    recon = model.reconstruct(tracks)
    assert recon.shape == tracks.shape and ((recon - tracks).abs() * SIZE / 2 < 0.5).float().mean() > 0.9
    assert torch.unique(model.encode(tracks)[1][:, 0]).numel() == 4  # a code per speed, no collapse


def test_tokenizer_encoder_is_causal():
    cfg = TokenizerConfig(image_size=SIZE, views=V, num_points=N, horizon=S, **TINY_TOKENIZER)
    model = MotionTokenizer(cfg).eval()
    tracks = tracks_moving()
    changed = tracks.clone()
    changed[:, :, 4:] += 0.3  # velocity changes from step 3 on
    before = model.to_fsq(
        model.encoder(
            model.proj_in(torch.flatten((tracks[:, :, 1:] - tracks[:, :, :-1]).transpose(1, 2), 2)) + model.enc_pos,
            mask=model._enc_mask,
        )
    )
    after = model.to_fsq(
        model.encoder(
            model.proj_in(torch.flatten((changed[:, :, 1:] - changed[:, :, :-1]).transpose(1, 2), 2)) + model.enc_pos,
            mask=model._enc_mask,
        )
    )
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def forward_model():
    cfg = ForwardConfig(
        image_size=SIZE, views=1, code_len=5, fsq_levels=[4, 4], vocab=["<unk>", "push", "reach"], **TINY_FORWARD
    )
    return ForwardModel(cfg)


def test_forward_model_is_causal_over_codes_and_sees_all_conditioning():
    torch.manual_seed(0)
    model = forward_model().eval()
    images = torch.randint(0, 255, (2, 1, SIZE, SIZE, 3), dtype=torch.uint8)
    codes = torch.randint(0, 16, (2, 5))
    base = model.logits(images, ["push", "push"], codes)
    later = codes.clone()
    later[:, 3] = (later[:, 3] + 1) % 16  # code 3 is input only to positions 4..
    out = model.logits(images, ["push", "push"], later)
    assert torch.allclose(base[:, :4], out[:, :4], atol=1e-6) and not torch.allclose(base[:, 4], out[:, 4])
    assert not torch.allclose(base, model.logits(images, ["reach", "reach"], codes))  # the sentence matters


def test_forward_model_learns_and_cached_decoding_matches_teacher_forcing():
    torch.manual_seed(0)
    model = forward_model()
    images = torch.randint(0, 255, (4, 1, SIZE, SIZE, 3), dtype=torch.uint8)
    sentences = ["push", "reach", "push", "reach"]
    codes = torch.tensor([[1, 2, 3, 4, 5], [9, 9, 8, 8, 7]] * 2)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(80):
        loss, _ = model(images, sentences, codes)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    pred = model.predict(images, sentences)
    assert torch.equal(pred, codes)
    assert torch.equal(model.logits(images, sentences, pred).argmax(-1), pred)


def test_track_baseline_learns_a_constant_motion():
    torch.manual_seed(0)
    cfg = TrackBaselineConfig(
        image_size=SIZE, views=V, horizon=S, vocab=["<unk>", "push"], train_points=None, **TINY_FORWARD
    )
    model = TrackBaseline(cfg)
    images = torch.randint(0, 255, (B, V, SIZE, SIZE, 3), dtype=torch.uint8)
    tracks = tracks_moving(2.0)
    visible = torch.ones(B, V, S, N, dtype=torch.bool)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    first = model(images, ["push"] * B, tracks, visible)[0].item()
    for _ in range(60):
        loss, _ = model(images, ["push"] * B, tracks, visible)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05 * first
    assert model.eval().predict_tracks(images, ["push"] * B, tracks[:, :, 0]).shape == tracks.shape
