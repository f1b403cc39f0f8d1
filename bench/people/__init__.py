"""People and a person's page: server time and SQL queries with 1,000 connections."""
