"""mbplan: model-based planning with learned recurrent world models."""

__version__ = "0.1.0"
