"""Tokenizer, forward model and track baseline on tiny shapes: shapes, learning, masking."""

import torch

from amplify_ros.core.forward_model import ForwardConfig, ForwardModel
from amplify_ros.core.tokenizer import MotionTokenizer, TokenizerConfig, classes_to_tracks, displacement_classes
from amplify_ros.core.track_baseline import TrackBaseline, TrackBaselineConfig
from tiny import TINY_FORWARD, TINY_TOKENIZER

B, V, S, N, SIZE = 4, 2, 6, 10, 32


def tracks_moving(speed_px=1.0):
    """Points drifting right at ``speed_px`` pixels per step (a float, or one per sample)."""
    start = torch.rand(B, V, N, 2) * 1.6 - 0.8
    speed = torch.as_tensor(speed_px, dtype=torch.float32).reshape(-1, 1, 1, 1, 1) * (2 / SIZE)
    steps = torch.arange(S).view(1, 1, S, 1, 1) * torch.tensor([0.0, 1.0]) * speed
    return start.unsqueeze(2) + steps


def test_displacement_classes_round_trip_within_half_a_pixel():
    steps = torch.randn(B, V, S, N, 2) * 0.05  # ~0.8 px per step, well inside +-7 px
    steps[:, :, 0] = 0
    tracks = (torch.rand(B, V, 1, N, 2) - 0.5) + torch.cumsum(steps, dim=2)
    classes = displacement_classes(tracks, SIZE, 15)
    back = classes_to_tracks(classes, tracks[:, :, 0], SIZE, 15)
    err_px = (back - tracks).abs() * SIZE / 2
    assert err_px.max() <= 0.5 + 1e-5  # steps here stay within +-7 px, so nothing is clipped


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
    before = model.to_fsq(model.encoder(model.proj_in(torch.flatten((tracks[:, :, 1:] - tracks[:, :, :-1]).transpose(1, 2), 2)) + model.enc_pos, mask=model._enc_mask))
    after = model.to_fsq(model.encoder(model.proj_in(torch.flatten((changed[:, :, 1:] - changed[:, :, :-1]).transpose(1, 2), 2)) + model.enc_pos, mask=model._enc_mask))
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6)
    assert not torch.allclose(before[:, 3:], after[:, 3:])


def forward_model():
    cfg = ForwardConfig(image_size=SIZE, views=1, code_len=5, fsq_levels=[4, 4], vocab=["<unk>", "push", "reach"], **TINY_FORWARD)
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
    cfg = TrackBaselineConfig(image_size=SIZE, views=V, horizon=S, vocab=["<unk>", "push"], train_points=None, **TINY_FORWARD)
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
