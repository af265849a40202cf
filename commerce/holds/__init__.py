"""Click-and-collect holds: a pickup cart's quantities held at its store in MongoDB (store),
what the rest of the world sees net of them (model), and the hook that tells subscribers
which stock moved (changes)."""
