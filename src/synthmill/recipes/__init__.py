"""Generation recipes: Self-Instruct, Evol-Instruct, distillation and document QA.

Each recipe is a stage (registered under `synthmill.stages`) that builds prompts and
parses replies; the model itself is a `backend` field, so any backend can run any recipe.
"""
