r"""Hugging Face image classifiers: a ``save_pretrained`` folder (or a hub id), with its processor's sizes."""

from __future__ import annotations

import os

from captum_iaside.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel, ModelSpecError, no_weights, seeded
from captum_iaside.models.weights import load_weights, weights_file


def _side(size: object) -> int | None:
    r"""The square side of a Hugging Face ``size`` (an int, a dict or a ``SizeDict``), None if it names none."""
    if isinstance(size, int):
        return size
    for key in ("height", "shortest_edge"):
        value = getattr(size, key, None) or (size.get(key) if hasattr(size, "get") else None)
        if value:
            return int(value)
    return None


def processor_side(processor: object) -> int:
    r"""
    The side of the images a Hugging Face processor gives its model: its ``crop_size`` where it centre-crops
    (DeiT resizes to 256 and crops 224), else its ``size``; 224 if it names neither.
    """
    if getattr(processor, "do_center_crop", False):
        crop = _side(getattr(processor, "crop_size", None))
        if crop:
            return crop
    return _side(getattr(processor, "size", None)) or 224


def load_hugging_face(path: str, weights: str | None) -> LoadedModel:
    r"""
    A Hugging Face image classifier (a local ``save_pretrained`` folder, or a hub id) with its processor's
    sizes; ``weights`` ``none`` keeps the architecture with random weights (seeded), a file loads a state dict.
    """
    try:
        from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification
    except ImportError as exc:
        raise ModelSpecError(f"hf:{path} needs transformers: pip install transformers (or captum-iaside[zoo])") from exc
    if not os.path.isdir(path) and os.path.exists(path):
        raise ModelSpecError(f"hf:{path} is a file; give a folder written by save_pretrained, or a hub id")
    from transformers.utils import logging as hf_logging

    file = weights_file(weights)
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # loading a folder is quick; its bar would break one-line errors
    try:
        if no_weights(weights) or file is not None:
            with seeded():
                model = AutoModelForImageClassification.from_config(AutoConfig.from_pretrained(path))
        else:
            model = AutoModelForImageClassification.from_pretrained(path)
        processor = AutoImageProcessor.from_pretrained(path)
    except (OSError, ValueError, KeyError) as exc:
        where = "folder" if os.path.isdir(path) else "hub id (offline, only local folders load)"
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ModelSpecError(f"hf:{path} is not a Hugging Face image classifier {where}: {first}") from exc
    finally:
        if bar:
            hf_logging.enable_progress_bar()
    if file is not None:
        load_weights(model, file, f"hf:{path}")
    side = processor_side(processor)
    mean = tuple(getattr(processor, "image_mean", None) or IMAGENET_MEAN)
    std = tuple(getattr(processor, "image_std", None) or IMAGENET_STD)
    return LoadedModel(f"hf:{os.path.basename(os.path.normpath(path))}", model.eval(), side, mean, std)
