"""The sandbox platform: a simulated email platform in mailseg's own database. `platform` implements
the EmailPlatform protocol; `behaviour` decides how the simulated subscribers react to each mail;
`world` seeds lists, members and templates and moves the platform's clock."""
