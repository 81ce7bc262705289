"""Tests of the overfitting exercise's code: early stopping and the overfitting check.

The exercise's run and its claim are checked by the site's build (test_site_build.py).
"""

from __future__ import annotations

from lesson_code import definitions

lesson = definitions("overfitting")
early_stopping, is_overfitting = lesson.early_stopping, lesson.is_overfitting

# A textbook case: training loss falls all along, validation loss is lowest at epoch 4.
TRAIN = [1.0, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.07, 0.05, 0.03]
VAL = [1.1, 0.8, 0.6, 0.5, 0.52, 0.55, 0.6, 0.64, 0.7, 0.75]


def test_early_stopping_stops_patience_epochs_after_the_best():
    assert early_stopping(VAL, patience=3) == (4, 7)
    assert early_stopping(VAL, patience=5) == (4, 9)


def test_early_stopping_runs_to_the_end_when_validation_keeps_improving():
    assert early_stopping([1.0, 0.9, 0.8, 0.7], patience=2) == (4, 4)
    assert early_stopping([1.0, 0.9, 0.95, 0.96], patience=5) == (2, 4)


def test_a_new_best_resets_the_patience():
    assert early_stopping([1.0, 1.1, 1.2, 0.9, 1.0, 1.1, 1.2], patience=3) == (4, 7)


def test_overfitting_is_detected_on_the_textbook_case():
    assert is_overfitting(TRAIN, VAL, min_rise=0.2)  # 0.75 >= 1.2 * 0.5


def test_no_overfitting_when_validation_loss_stays_near_its_minimum():
    assert not is_overfitting(TRAIN, VAL[:-3] + [0.55, 0.56, 0.58], min_rise=0.2)


def test_no_overfitting_when_training_loss_rose_too():
    # Both losses going up is divergence (e.g. a too large learning rate), not overfitting.
    assert not is_overfitting(TRAIN[:-1] + [0.9], VAL, min_rise=0.2)


def test_the_full_profile_runs_long_enough_to_stop_early():
    config = lesson.FULL
    assert config.train.schedule == "constant"  # no schedule to hide the overfitting
    assert config.train.num_epochs > 2 * config.patience
