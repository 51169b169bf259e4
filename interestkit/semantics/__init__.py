"""What names mean: text embedders (plugins), and maps from a classifier's classes to interests."""

from .embedding import Embedder, default_embedder, embedder_names, load_glove, preferred
from .imagenet import class_index, imagenet_class_names, imagenet_map, taxonomy_hints
from .mapping import ClassMap, interest_prompts, map_classes

__all__ = ["ClassMap", "Embedder", "class_index", "default_embedder", "embedder_names", "imagenet_class_names",
           "imagenet_map", "interest_prompts", "load_glove", "map_classes", "preferred", "taxonomy_hints"]
