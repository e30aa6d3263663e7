# -*- encoding: utf-8 -*-
# stub: rack 2.0.6 ruby lib

Gem::Specification.new do |s|
  s.name = "rack".freeze
  s.version = "2.0.6"

  s.required_rubygems_version = Gem::Requirement.new(">= 0".freeze) if s.respond_to? :required_rubygems_version=
  s.require_paths = ["lib".freeze]
  s.authors = ["Leah Neukirchen".freeze]
  s.licenses = ["MIT".freeze]
  s.summary = "a modular Ruby webserver interface".freeze

  s.installed_by_version = "3.3.26" if s.respond_to? :installed_by_version
end
