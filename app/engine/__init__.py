"""The workflow engine adapter: the only package of Parcours that imports SpiffWorkflow.

`parser` turns uploaded BPMN into checked, deployable specs; `expressions` is the restricted
evaluator through which every expression of a pathway goes (no user-supplied code runs).
"""
