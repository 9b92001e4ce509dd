"""The worker's collector setting: survivors of a full collection are not scanned again."""

from __future__ import annotations

import gc

from streams.collector import _freeze_after_full_collection, freeze_survivors_of_full_collections


def test_a_full_collection_freezes_what_survived_it() -> None:
    try:
        freeze_survivors_of_full_collections()
        freeze_survivors_of_full_collections()  # idempotent
        assert gc.callbacks.count(_freeze_after_full_collection) == 1
        gc.unfreeze()
        state = [{"dossier": n} for n in range(10_000)]
        gc.collect()
        assert gc.get_freeze_count() >= len(state)
        assert all(len(gc.get_objects(generation)) < len(state) for generation in range(3))
    finally:
        gc.callbacks.remove(_freeze_after_full_collection)
        gc.unfreeze()
