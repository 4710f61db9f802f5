"""The Kubernetes machinery: client, informers, reconcile queue, timers, leader election."""
