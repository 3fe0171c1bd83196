"""The model classes by architecture name, and building a model from its config."""

from compressor.errors import ModelError
from compressor.nn.config import ModelConfig
from compressor.nn.factorized import FactorizedPriorModel
from compressor.nn.hyperprior import MeanScaleHyperpriorModel, ScaleHyperpriorModel

__all__ = [
    "create_model",
    "MODEL_CLASSES",
]

MODEL_CLASSES = {
    "factorized": FactorizedPriorModel,
    "hyperprior": ScaleHyperpriorModel,
    "mean-scale-hyperprior": MeanScaleHyperpriorModel,
}


def create_model(config, initialize=True):
  """Instantiates the registered model class named by config.architecture.

  initialize=False only allocates the weights, for saved ones to overwrite.
  """
  if not isinstance(config, ModelConfig):
    config = ModelConfig.from_dict(config)
  try:
    model_class = MODEL_CLASSES[config.architecture]
  except KeyError:
    raise ModelError(
        f"unknown architecture {config.architecture!r}; "
        f"known: {', '.join(sorted(MODEL_CLASSES))}") from None
  return model_class(config, initialize)
