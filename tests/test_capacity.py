"""Tests of the capacity lesson: what a line fits, and that an MLP beats it on two moons."""

from __future__ import annotations

import torch

from mnist_tutorial import registry
from mnist_tutorial.capacity import (accuracy, fit_classifier, fit_line, fit_polynomial,
                                     linear_classifier, make_houses, make_moons, r_squared,
                                     single_thread, small_mlp)


def test_fit_line_recovers_a_noiseless_line():
    x = torch.linspace(0, 10, 50, dtype=torch.float64)
    w, b = fit_line(x, 3 * x - 2)
    assert abs(w - 3) < 1e-10 and abs(b + 2) < 1e-10
    assert abs(r_squared(3 * x - 2, w * x + b) - 1) < 1e-12


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


def test_mlp_fits_two_moons_better_than_a_line():
    X, y = make_moons(300, seed=0)
    X_test, y_test = make_moons(300, seed=1)
    acc = {}
    with single_thread():
        for name, make in (("linear", linear_classifier), ("mlp", small_mlp)):
            torch.manual_seed(0)
            net = make()
            fit_classifier(net, X, y, num_steps=200, lr=0.02)
            acc[name] = accuracy(net, X_test, y_test)
    assert acc["linear"] < 0.93  # no straight line separates the moons
    assert acc["mlp"] > acc["linear"] + 0.05


def test_single_thread_restores_the_thread_count():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_capacity_experiment_runs_in_the_smoke_profile():
    result = registry.run_experiment(registry.find("capacity"), "smoke")
    metrics = result["metrics"]
    assert metrics["mlp_accuracy"]["value"] > metrics["linear_accuracy"]["value"]
    assert {"houses", "regions"} <= set(result["figures"])


def test_templates_experiment_runs_in_the_smoke_profile(mnist_root):
    result = registry.run_experiment(registry.find("capacity_templates"), "smoke")
    assert result["metrics"]["test_accuracy"]["value"] > 0.5
    assert "<image" in result["figures"]["templates"]["svg"]
