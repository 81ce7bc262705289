"""Tests of the capacity lesson's code: what a line fits, and that an MLP beats it on two moons.

The lesson's run and its claims are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

import torch

from lesson_code import definitions
from mnist_tutorial.toy import accuracy, fit_classifier, make_moons, single_thread

lesson = definitions("capacity")
fit_line, fit_polynomial, make_houses, r_squared = (lesson.fit_line, lesson.fit_polynomial,
                                                    lesson.make_houses, lesson.r_squared)


def test_fit_line_recovers_a_noiseless_line():
    x = torch.linspace(0, 10, 50, dtype=torch.float64)
    w, b = fit_line(x, 3 * x - 2)
    assert abs(w - 3) < 1e-10 and abs(b + 2) < 1e-10
    assert abs(r_squared(3 * x - 2, w * x + b) - 1) < 1e-12


def test_r_squared_of_the_mean_is_zero():
    y = torch.tensor([1.0, 2.0, 4.0, 9.0], dtype=torch.float64)
    assert abs(r_squared(y, torch.full_like(y, float(y.mean())))) < 1e-12


def test_fit_polynomial_recovers_a_noiseless_quadratic():
    x = torch.linspace(-3, 7, 40, dtype=torch.float64)
    y = 2 - x + 0.5 * x**2
    torch.testing.assert_close(fit_polynomial(x, y, degree=2), y)


def test_houses_are_reproducible_and_shaped_as_described():
    first, second = make_houses(seed=3), make_houses(seed=3)
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    size, age, price_by_size, price_by_age = first
    w, _ = fit_line(size, price_by_size)
    assert 2.5 < w < 3.5  # generated with 3.0 thousand euros per m²
    quadratic = r_squared(price_by_age, fit_polynomial(age, price_by_age, 2))
    w, b = fit_line(age, price_by_age)
    assert quadratic > r_squared(price_by_age, w * age + b) + 0.3


def test_moons_are_balanced_and_seeded():
    X, y = make_moons(300, seed=1)
    assert X.shape == (300, 2) and int(y.sum()) == 150
    assert torch.equal(X, make_moons(300, seed=1)[0])
    assert not torch.equal(X, make_moons(300, seed=2)[0])


def test_classifiers_map_points_to_two_logits():
    X = torch.randn(7, 2)
    assert lesson.linear_classifier()(X).shape == (7, 2)
    assert lesson.small_mlp(hidden=5)(X).shape == (7, 2)


def test_mlp_fits_two_moons_better_than_a_line():
    X, y = make_moons(300, seed=0)
    X_test, y_test = make_moons(300, seed=1)
    acc = {}
    with single_thread():
        for name, make in (("linear", lesson.linear_classifier), ("mlp", lesson.small_mlp)):
            torch.manual_seed(0)
            net = make()
            fit_classifier(net, X, y, num_steps=200, lr=0.02)
            acc[name] = accuracy(net, X_test, y_test)
    assert acc["linear"] < 0.93  # no straight line separates the moons
    assert acc["mlp"] > acc["linear"] + 0.05


def test_width_sweep_gives_one_accuracy_per_width_and_seed():
    X, y = make_moons(100, seed=0)
    with single_thread():
        results, first_nets = lesson.width_sweep(X, y, X, y, widths=(1, 3), seeds=(0, 1),
                                                 num_steps=5)
    assert list(results) == [1, 3]
    assert all(len(a) == 2 and all(0 <= v <= 1 for v in a) for a in results.values())
    # each width's first-seed network, the one its figure draws, scores its first accuracy
    assert [net[0].out_features for net in first_nets.values()] == [1, 3]
    assert [accuracy(net, X, y) for net in first_nets.values()] == [a[0] for a in results.values()]


def test_every_profile_draws_the_same_slider_frames():
    # the page's slider places one figure boundary_<width> per width, in every profile
    assert lesson.SMOKE.widths == lesson.FULL.widths


def test_one_step_from_zero_adds_weighted_sums_of_images():
    # From zero weights every class has probability 1/10, so one gradient step adds
    # lr * mean_i (1[y_i = k] - 1/10) x_i to the template of digit k.
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 1, 28, 28, generator=g)
    y = torch.arange(40) % 10
    net = lesson.train_linear_mnist(X, y, num_steps=1, lr=0.5)
    one_hot = torch.nn.functional.one_hot(y, 10).float()
    expected = 0.5 * (one_hot - 0.1).T @ X.flatten(1) / len(y)  # (10, 784)
    torch.testing.assert_close(net.weight.detach(), expected)


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
