from .dataset_meta import generic_dataset_meta, resolve_dataset_meta
from .image_demo import run_image_demo
from .inference import inference_model, init_model, model_kind

__all__ = [
    'init_model', 'inference_model', 'model_kind', 'run_image_demo',
    'generic_dataset_meta', 'resolve_dataset_meta'
]
