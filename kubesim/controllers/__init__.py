"""Controllers of kube-controller-manager that kubesim reproduces."""
