"""The `DiffusionPipeline`s, one per file: velocity generation and inversion, joint, denoising and waveform generation."""

from .pipeline_cold_diffusion_denoise import ColdDiffusionDenoisePipeline, SeismogramDenoiseOutput
from .pipeline_conditional_waveform import ConditionalWaveformOutput, ConditionalWaveformPipeline
from .pipeline_joint import JointGenerationOutput, JointGenerationPipeline, JointInversionOutput
from .pipeline_velocity import VelocityGenerationPipeline, VelocityPipelineOutput
from .pipeline_velocity_inversion import VelocityInversionOutput, VelocityInversionPipeline

__all__ = [
    "ColdDiffusionDenoisePipeline",
    "ConditionalWaveformOutput",
    "ConditionalWaveformPipeline",
    "JointGenerationOutput",
    "JointGenerationPipeline",
    "JointInversionOutput",
    "SeismogramDenoiseOutput",
    "VelocityGenerationPipeline",
    "VelocityInversionOutput",
    "VelocityInversionPipeline",
    "VelocityPipelineOutput",
]
