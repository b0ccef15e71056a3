{{ protected_model() }}
