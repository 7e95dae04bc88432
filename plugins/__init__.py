"""Optional features of Parcours, each in its own package, turned on by the PLUGINS setting
(see app/plugins.py and the README's "Écrire un plugin")."""
