"""What names mean: text embedders, and maps from a classifier's classes to interests."""

from .embedding import Embedder, default_embedder, glove_embedder, load_glove, minilm_embedder
from .imagenet import class_index, imagenet_class_names, imagenet_map, taxonomy_hints
from .mapping import ClassMap, interest_prompts, map_classes

__all__ = ["ClassMap", "Embedder", "class_index", "default_embedder", "glove_embedder", "imagenet_class_names",
           "imagenet_map", "interest_prompts", "load_glove", "map_classes", "minilm_embedder", "taxonomy_hints"]
