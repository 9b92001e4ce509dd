"""motcua: live monitoring of Vietnam's one-stop administrative-procedure centres."""
