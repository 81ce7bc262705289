"""Tests of the universal-approximation lesson's code: bumps, hand-built networks, and
fits that improve with width.

The lesson's run and its claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import torch

from lesson_code import definitions

lesson = definitions("universal_approximation")
DOMAIN, bump_network, bumps_needed = lesson.DOMAIN, lesson.bump_network, lesson.bumps_needed
extrapolation, fit, grid, kinks = lesson.extrapolation, lesson.fit, lesson.grid, lesson.kinks
max_error, mse, relu_bump = lesson.max_error, lesson.mse, lesson.relu_bump
relu_interpolant, shallow_net = lesson.relu_interpolant, lesson.shallow_net
sigmoid_bump, target = lesson.sigmoid_bump, lesson.target


def test_bumps_are_high_inside_and_flat_outside():
    x = torch.tensor([-1.9, -0.5, 0.0, 0.4, 1.9], dtype=torch.float64)
    sig = sigmoid_bump(x, -1.0, 1.0, height=2.0, steepness=30)
    assert abs(sig[2] - 2.0) < 1e-6 and abs(sig[0]) < 1e-6 and abs(sig[-1]) < 1e-6
    relu = relu_bump(x, -1.0, 1.0, height=2.0, width=0.2)
    expected = torch.tensor([0.0, 2.0, 2.0, 2.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(relu, expected, rtol=0, atol=1e-12)  # flat, not merely close


def test_bump_network_is_a_sum_of_bumps_and_improves_with_more():
    X = grid(1001)
    net = bump_network(target, 8, sharpness=20.0)
    assert net[0].out_features == 16  # two sigmoid units per bump
    centres = torch.linspace(*DOMAIN, 8, dtype=torch.float64)
    half = (DOMAIN[1] - DOMAIN[0]) / 7 / 2
    by_hand = sum(sigmoid_bump(X, c - half, c + half, target(c), 20.0 / (2 * half)) for c in centres)
    with torch.no_grad():
        torch.testing.assert_close(net(X), by_hand)
    assert max_error(bump_network(target, 32), target, X) < max_error(net, target, X)


def test_bumps_needed_meets_the_tolerance():
    n = bumps_needed(target, 0.3)
    X = grid(2001)
    assert max_error(bump_network(target, n), target, X) <= 0.3
    assert max_error(bump_network(target, n - 1), target, X) > 0.3


def test_relu_interpolant_passes_through_its_knots():
    net = relu_interpolant(target, 8)
    knots = torch.linspace(*DOMAIN, 9, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        torch.testing.assert_close(net(knots), target(knots))
        middle = (knots[:-1] + knots[1:]) / 2  # straight lines between the knots
        torch.testing.assert_close(net(middle), (target(knots[:-1]) + target(knots[1:])) / 2)


def test_shallow_net_starts_with_every_kink_inside_the_interval():
    net = shallow_net(32, seed=1)
    assert len(kinks(net)) == 32
    assert net[0].weight.dtype == torch.float64
    torch.testing.assert_close(shallow_net(32, seed=1)[2].weight, net[2].weight)  # seeded


def test_error_falls_with_width_on_a_cheap_setting():
    X = grid(64)
    y = target(X)
    errors = {}
    for width in (1, 16):
        net = shallow_net(width, seed=0)
        fit(net, X, y, max_iter=100)
        errors[width] = mse(net, target, grid(501))
    assert errors[16] < errors[1] / 10


def test_a_fit_says_nothing_outside_its_interval():
    X = grid(64)
    net = shallow_net(16, seed=0)
    fit(net, X, target(X), max_iter=100)
    inside, outside = extrapolation(net, target)
    assert outside > 10 * inside


def test_every_profile_draws_the_same_slider_frames():
    # the page's slider places one figure fit_<width> per width, in every profile
    assert lesson.SMOKE.widths == lesson.FULL.widths
    assert len(lesson.SMOKE.seeds) % 2 == 1 and len(lesson.FULL.seeds) % 2 == 1  # a median run
