"""Training: synthetic data (EvoTrain-lite) and the EvoEmbedding trainer."""
