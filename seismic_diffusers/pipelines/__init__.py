from .pipeline_cold_diffusion_denoise import ColdDiffusionDenoisePipeline, SeismogramDenoiseOutput
from .pipeline_velocity import VelocityGenerationPipeline, VelocityPipelineOutput

__all__ = [
    "ColdDiffusionDenoisePipeline",
    "SeismogramDenoiseOutput",
    "VelocityGenerationPipeline",
    "VelocityPipelineOutput",
]
