"""Generation recipes: Self-Instruct, Evol-Instruct, distillation and document QA.

Each recipe is a stage (registered under `synthmill.stages`) that builds prompts and
parses replies; the model itself is a `backend` field, so any backend can run any recipe.
"""

# The eight recipes of the README's "Recipes from the literature" part, in its order:
# its tests, `synthmill stages` option tables and bench/recipes_kept.py all use this list.
LITERATURE_RECIPES: tuple[str, ...] = (
    "constitutional",
    "rephrase",
    "backtranslate",
    "preference",
    "multiturn",
    "oss_instruct",
    "textbook",
    "magpie",
)
