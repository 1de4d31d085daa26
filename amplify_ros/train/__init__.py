"""Command-line tools: ``amplify-data`` now; ``amplify-train`` and ``amplify-eval`` as models land."""
