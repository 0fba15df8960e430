from .pipeline_velocity import VelocityGenerationPipeline, VelocityPipelineOutput

__all__ = ["VelocityGenerationPipeline", "VelocityPipelineOutput"]
