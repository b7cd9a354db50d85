"""The web layer: the app factory, the callback receiver, the JSON API and its documentation."""
