"""The cleanup controllers: finished Jobs, pods stuck Terminating, old Events, surplus ReplicaSets.

Each policy module says what is eligible and when (a pure `decide`); `deleter` is the one
guarded path every deletion takes; the controllers connect informers, timers and the queue.
"""
