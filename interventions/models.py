# Intervention orders and reports arrive with the termination workflow.
