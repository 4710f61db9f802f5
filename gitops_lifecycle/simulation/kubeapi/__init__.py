"""The simulated Kubernetes API server: discovery, chunked LISTs, WATCH, writes, deletion."""
