"""``layernas race``: the networks a search cannot tell apart, trained again at growing budgets on paired
seeds until a paired test over seeds separates them, or says plainly that they are a tie."""
