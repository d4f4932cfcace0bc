"""Sentiment analysis: a many-to-one recurrent classifier over words."""
